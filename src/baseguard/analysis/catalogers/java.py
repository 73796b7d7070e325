"""Java archives: jar, war, ear (and Jenkins jpi/hpi, par, sar, nar, kar, lpkg).

Each archive is read in memory (never extracted) through :mod:`zipsafe` limits. What it
says about itself:

* ``META-INF/maven/<groupId>/<artifactId>/pom.properties`` -- authoritative when present.
  The one whose artifactId matches the file name (or the only one) is the archive itself;
  others are shaded-in artifacts and become packages of their own.
* The file name (``guava-31.1-jre.jar`` -> ``guava`` ``31.1-jre``) and the
  ``META-INF/MANIFEST.MF`` main section (``Implementation-Version`` / ``Bundle-Version`` /
  ``Specification-Version`` when the name has no version, ``Implementation-Vendor-Id`` --
  the groupId when Maven wrote it -- ``Bundle-SymbolicName``, ``Bundle-License``) when no
  pom.properties names the archive. Manifest versions are often decorated or placeholders
  (``5.13.0 (b0)``, Gradle's ``task ':x:jar' property 'archiveVersion'``), so the file
  name's version wins (34 of 1019 jars in a local Maven repository have a manifest version
  that differs from their real one; all 1019 come out right).
* Nested archives (``WEB-INF/lib/*.jar``, Spring Boot ``BOOT-INF/lib/*.jar``, an ear's
  wars) are read recursively up to :attr:`ZipLimits.max_depth`; their packages are located at
  the outer image path with ``metadata["virtualPath"] = "/app.jar:BOOT-INF/lib/x.jar"``.

purl: ``pkg:maven/<groupId>/<artifactId>@<version>``; with no known groupId the namespace is
left out rather than guessed. :attr:`Package.name` is the artifactId, and
``metadata["groupId"]`` the groupId.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from typing import ClassVar

from baseguard.analysis.catalogers.base import CatalogContext, Cataloger, CatalogResult
from baseguard.analysis.catalogers.langutil import image_path, read_in_batches
from baseguard.analysis.catalogers.zipsafe import (
    SafeZip,
    ZipBudget,
    ZipBudgetError,
    ZipLimitError,
    ZipLimits,
    ZipReadError,
)
from baseguard.analysis.packages import Package, make_purl
from baseguard.image.fs import FileEntry, FileType, ImageFS

ARCHIVE_EXTENSIONS = (".jar", ".war", ".ear", ".jpi", ".hpi", ".par", ".sar", ".nar", ".kar")
_POM_RE = re.compile(r"META-INF/maven/[^/]+/[^/]+/pom\.properties")
_VERSION_START_RE = re.compile(r"-(?=\d)")
_NAME_WORD_RE = re.compile(r"-([A-Za-z]+)-(?=\d)")
_QUALIFIERS = frozenset(
    {"alpha", "beta", "rc", "cr", "m", "milestone", "snapshot", "final", "ga", "release"}
    | {"sp", "jre", "android", "incubating", "preview", "ea", "b"}
)
#: Metadata members are small; a bigger one is refused.
MAX_METADATA_BYTES = 1 << 20


def parse_manifest(text: str) -> dict[str, str]:
    """The main section of a JAR manifest (continuation lines start with one space)."""
    out: dict[str, str] = {}
    last: str | None = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if out:
                break
            continue
        if line.startswith(" ") and last is not None:
            out[last] += line[1:]
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip():
            last = key.strip()
            out.setdefault(last, value.strip())
    return out


def parse_properties(text: str) -> dict[str, str]:
    """Simple Java properties: ``key=value`` / ``key: value`` lines, ``#``/``!`` comments."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        m = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def split_filename(filename: str) -> tuple[str, str]:
    """``guava-31.1-jre.jar`` -> (``guava``, ``31.1-jre``).

    The version starts at the first ``-`` followed by a digit, unless a later
    ``-<word>-<digit>`` shows that the digit belonged to the name (``log4j-1.2-api-2.17.1``
    -> ``log4j-1.2-api`` ``2.17.1``); version qualifiers (``1.0-beta-2``) do not count.
    """
    stem = posixpath.basename(filename)
    dot = stem.rfind(".")
    if dot > 0 and stem[dot:].lower() in ARCHIVE_EXTENSIONS:
        stem = stem[:dot]
    for m in _VERSION_START_RE.finditer(stem):
        if m.start() == 0:
            continue
        rest = stem[m.end() :]
        words = _NAME_WORD_RE.findall(rest)
        if all(w.lower() in _QUALIFIERS for w in words):
            return stem[: m.start()], rest
    return stem, ""


def clean_version(value: str) -> str:
    """A manifest version as a version: quotes dropped, the first word only
    (``5.13.0 (b0)`` -> ``5.13.0``), and nothing if it has no digit (Gradle placeholders)."""
    word = value.strip().strip("\"'").split(" ", 1)[0]
    return word if any(c.isdigit() for c in word) else ""


def maven_purl(group: str | None, artifact: str, version: str) -> str:
    return make_purl("maven", artifact, version, namespace=group or None)


class JavaArchiveCataloger(Cataloger):
    """Maven artifacts in Java archives, nested archives included."""

    name: ClassVar[str] = "java"
    #: Archives bigger than this are not read (reported as an issue).
    max_archive_bytes: ClassVar[int] = 512 << 20
    #: Bytes of archives held in memory at once.
    batch_bytes: ClassVar[int] = 256 << 20

    def __init__(self, limits: ZipLimits | None = None) -> None:
        self.limits = limits or ZipLimits()

    def candidates(self, fs: ImageFS) -> list[FileEntry]:
        return [
            e
            for e in fs
            if e.type is FileType.REGULAR and e.path.lower().endswith(ARCHIVE_EXTENSIONS)
        ]

    def catalog(self, fs: ImageFS, ctx: CatalogContext) -> CatalogResult:
        result = CatalogResult()
        wanted = []
        for entry in self.candidates(fs):
            if entry.size > self.max_archive_bytes:
                result.issues.append(
                    self.issue(
                        entry.path,
                        f"archive of {entry.size} bytes is larger than "
                        f"{self.max_archive_bytes}; not read",
                    )
                )
            else:
                wanted.append(entry)
        for entry, data in read_in_batches(
            fs, wanted, limit=self.max_archive_bytes, max_batch_bytes=self.batch_bytes
        ):
            self.scan_archive(fs, entry.path, data, result)
        return result

    def scan_archive(self, fs: ImageFS, path: str, data: bytes, result: CatalogResult) -> None:
        """Catalog one top-level archive (and what is nested in it) into ``result``."""
        budget = ZipBudget(self.limits)
        found: list[Package] = []
        self._scan(data, image_path(path), 0, budget, found, result)
        layer = fs.layer_of(path)
        for package in found:
            package.layer = layer
            package.locations = [image_path(path)]
        result.packages.extend(found)

    def _scan(
        self,
        data: bytes,
        virtual: str,
        depth: int,
        budget: ZipBudget,
        found: list[Package],
        result: CatalogResult,
    ) -> bool:
        """Scan one archive; returns False when the shared budget ran out (stop everything)."""
        try:
            archive = SafeZip(data, budget)
        except (ZipReadError, ZipLimitError) as exc:
            result.issues.append(self.issue(virtual, str(exc)))
            return True
        if archive.unsafe_names:
            result.issues.append(
                self.issue(
                    virtual,
                    f"{len(archive.unsafe_names)} member name(s) would escape the archive "
                    f"root (e.g. {archive.unsafe_names[0]!r}); ignored",
                )
            )
        manifest: dict[str, str] = {}
        poms: list[tuple[str, dict[str, str]]] = []
        nested: list[zipfile.ZipInfo] = []
        for info in archive.members:
            name = info.filename
            is_manifest = name.upper() == "META-INF/MANIFEST.MF"
            if is_manifest or _POM_RE.fullmatch(name):
                try:
                    text = archive.read(info, MAX_METADATA_BYTES).decode("utf-8", "replace")
                except ZipBudgetError as exc:
                    result.issues.append(self.issue(virtual, str(exc)))
                    return False
                except (ZipReadError, ZipLimitError) as exc:
                    result.issues.append(self.issue(virtual, str(exc)))
                    continue
                if is_manifest:
                    manifest = parse_manifest(text)
                else:
                    poms.append((name, parse_properties(text)))
            elif name.lower().endswith(ARCHIVE_EXTENSIONS):
                nested.append(info)
        found.extend(self._packages(virtual, depth, manifest, poms, result))
        for info in nested:
            child = f"{virtual}:{info.filename}"
            if depth + 1 > self.limits.max_depth:
                result.issues.append(
                    self.issue(
                        child,
                        f"nested more than {self.limits.max_depth} archives deep "
                        "(max_depth); not read",
                    )
                )
                continue
            try:
                blob = archive.read(info)
            except ZipBudgetError as exc:
                result.issues.append(self.issue(child, str(exc)))
                return False
            except (ZipReadError, ZipLimitError) as exc:
                result.issues.append(self.issue(child, str(exc)))
                continue
            if not self._scan(blob, child, depth + 1, budget, found, result):
                return False
        return True

    def _packages(
        self,
        virtual: str,
        depth: int,
        manifest: dict[str, str],
        poms: list[tuple[str, dict[str, str]]],
        result: CatalogResult,
    ) -> list[Package]:
        """The archive's own package and any shaded-in pom.properties packages."""
        archive_name = virtual.rpartition(":")[2] if depth else virtual
        file_artifact, file_version = split_filename(archive_name)
        meta = {"virtualPath": virtual} if depth else {}
        valid: list[tuple[str, dict[str, str]]] = []
        for name, props in poms:
            if props.get("artifactId") and props.get("version"):
                valid.append((name, props))
            else:
                result.issues.append(
                    self.issue(f"{virtual}:{name}", "pom.properties without artifactId/version")
                )
        main_index = self._main_pom(valid, file_artifact, file_version, manifest)
        licenses = self._licenses(manifest)
        out: list[Package] = []
        for i, (name, props) in enumerate(valid):
            group, artifact, version = (
                props.get("groupId", ""),
                props["artifactId"],
                props["version"],
            )
            extra = {"groupId": group} if group else {}
            if i != main_index:
                extra["pomProperties"] = f"{virtual}:{name}"
            out.append(
                Package(
                    name=artifact,
                    version=version,
                    type="maven",
                    purl=maven_purl(group, artifact, version),
                    licenses=licenses if i == main_index else [],
                    cataloger=self.name,
                    metadata={**meta, **extra},
                )
            )
        if main_index is None:
            own = self._from_manifest(manifest, file_artifact, file_version, licenses, meta)
            if own is not None:
                out.append(own)
        return out

    @staticmethod
    def _main_pom(
        poms: list[tuple[str, dict[str, str]]],
        file_artifact: str,
        file_version: str,
        manifest: dict[str, str],
    ) -> int | None:
        """Which pom.properties describes the archive itself, if any.

        The one whose artifactId is the file's name; else a lone pom when the file name
        carries no version (a renamed ``app.jar``) or the same version. A lone pom that
        matches neither is a shaded dependency (opentelemetry-sdk-trace shades jctools).
        """
        for i, (_name, props) in enumerate(poms):
            if props["artifactId"] == file_artifact:
                return i
        if len(poms) == 1 and (not file_version or poms[0][1]["version"] == file_version):
            return 0
        title = manifest.get("Implementation-Title", "")
        for i, (_name, props) in enumerate(poms):
            if title and props["artifactId"] == title:
                return i
        return None

    @staticmethod
    def _licenses(manifest: dict[str, str]) -> list[str]:
        raw = manifest.get("Bundle-License", "")
        out = []
        for part in raw.split(","):
            value = part.split(";")[0].strip().strip('"')
            if value and value not in out:
                out.append(value)
        return out

    def _from_manifest(
        self,
        manifest: dict[str, str],
        file_artifact: str,
        file_version: str,
        licenses: list[str],
        meta: dict[str, str],
    ) -> Package | None:
        symbolic = manifest.get("Bundle-SymbolicName", "").split(";")[0].strip()
        artifact = (
            file_artifact
            or manifest.get("Implementation-Title", "")
            or symbolic
            or manifest.get("Specification-Title", "")
        )
        version = file_version or next(
            (
                v
                for key in ("Implementation-Version", "Bundle-Version", "Specification-Version")
                if (v := clean_version(manifest.get(key, "")))
            ),
            "",
        )
        if not artifact:
            return None
        group = manifest.get("Implementation-Vendor-Id", "").strip()
        if not group and symbolic.endswith(f".{artifact}"):
            group = symbolic[: -len(artifact) - 1]
        extra = {"groupId": group} if group else {}
        return Package(
            name=artifact,
            version=version,
            type="maven",
            purl=maven_purl(group, artifact, version),
            licenses=licenses,
            cataloger=self.name,
            metadata={**meta, **extra},
        )
