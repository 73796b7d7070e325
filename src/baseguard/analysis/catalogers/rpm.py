"""RHEL, UBI, Fedora, CentOS, Rocky, Alma, Amazon Linux, SUSE… packages from the rpm database.

Three backends store the same header blobs: SQLite (``rpmdb.sqlite``, rpm >= 4.16: RHEL 9,
Fedora >= 33), ndb (``Packages.db``, SUSE) and the legacy Berkeley DB hash file
(``Packages``, RHEL <= 8, CentOS 7, Amazon Linux 2). They live in ``var/lib/rpm`` or
``usr/lib/sysimage/rpm``; one image has one database, and when several files are present
the first of :data:`DB_PATHS` wins (the newer backend, as rpm would have converted to it).

Versions are rpm's EVR (``1:3.0.7-27.el9``, the epoch only when set); the purl carries
``version-release`` with the epoch as the ``epoch`` qualifier, as the purl rpm type says.
The source package comes from SOURCERPM (``openssl-3.0.7-27.el9.src.rpm``); a source RPM
name carries no epoch, so the binary's epoch is applied to the source version (the same
spec built both). ``gpg-pubkey`` entries are imported signing keys, not packages, and are
left out. Requires resolve to installed packages through their provides and, for file
requires (``/bin/sh``), their file lists. The layer that introduced a package is the lowest
layer among its files still in the image; file lists are decoded only when needed (an
image of several layers, or a file require no provide satisfies).
"""

from __future__ import annotations

from baseguard.analysis.catalogers.base import (
    MAX_PROBLEMS,
    CatalogContext,
    CatalogResult,
    DatabaseCataloger,
    distro_qualifier,
    earliest_layer,
)
from baseguard.analysis.catalogers.rpmdb import HeaderError, RpmdbError, parse_header, read_rpmdb
from baseguard.analysis.catalogers.rpmdb import header as tags
from baseguard.analysis.distro import Distro
from baseguard.analysis.packages import Package, make_purl
from baseguard.image.fs import ImageFS

DB_PATHS = (
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/Packages.db",
    "var/lib/rpm/Packages.db",
    "usr/lib/sysimage/rpm/Packages",
    "var/lib/rpm/Packages",
)

#: Distro ids whose purl vendor namespace differs from the id.
_NAMESPACES = {"rhel": "redhat", "ol": "oracle", "sles": "suse", "opensuse-leap": "opensuse"}
_SKIPPED_NAMES = frozenset({"gpg-pubkey"})
_NONE = "(none)"


def parse_source_rpm(source_rpm: str) -> tuple[str, str] | None:
    """``openssl-3.0.7-27.el9.src.rpm`` -> (``openssl``, ``3.0.7-27.el9``); ``None`` if the
    name is not ``NAME-VERSION-RELEASE.src.rpm``."""
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if source_rpm.endswith(suffix):
            stem = source_rpm[: -len(suffix)]
            break
    else:
        return None
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], f"{parts[1]}-{parts[2]}"


def namespace_for(distro: Distro) -> str | None:
    """The purl vendor namespace: ``redhat`` for RHEL, otherwise the distro id."""
    if not distro.id:
        return None
    return _NAMESPACES.get(distro.id, distro.id)


_CORE_TAGS = tags.PACKAGE_TAGS - tags.FILE_TAGS


class _Rpm:
    __slots__ = (
        "_files",
        "arch",
        "blob",
        "epoch",
        "license",
        "modularity",
        "name",
        "provides",
        "release",
        "requires",
        "size",
        "source_rpm",
        "vendor",
        "version",
    )

    def __init__(self, blob: bytes) -> None:
        h = parse_header(blob, _CORE_TAGS)
        self.blob = blob
        self._files: list[str] | None = None
        self.name = h.string(tags.NAME) or ""
        self.version = h.string(tags.VERSION) or ""
        self.release = h.string(tags.RELEASE) or ""
        self.epoch = h.int(tags.EPOCH)
        arch = h.string(tags.ARCH) or ""
        self.arch = "" if arch == _NONE else arch
        license_ = h.string(tags.LICENSE) or ""
        self.license = "" if license_ == _NONE else license_
        source = h.string(tags.SOURCERPM) or ""
        self.source_rpm = "" if source == _NONE else source
        vendor = h.string(tags.VENDOR) or ""
        self.vendor = "" if vendor == _NONE else vendor
        self.modularity = h.string(tags.MODULARITYLABEL) or ""
        self.size = h.int(tags.SIZE)
        self.requires = h.strings(tags.REQUIRENAME)
        self.provides = h.strings(tags.PROVIDENAME)

    def files(self) -> list[str]:
        """The package's file paths, decoded on first use (a damaged list reads as empty)."""
        if self._files is None:
            try:
                self._files = parse_header(self.blob, tags.FILE_TAGS).files()
            except HeaderError:
                self._files = []
        return self._files

    @property
    def evr(self) -> str:
        vr = f"{self.version}-{self.release}" if self.release else self.version
        return f"{self.epoch}:{vr}" if self.epoch is not None else vr


def _resolve_requires(rpms: list[_Rpm]) -> dict[int, list[str]]:
    """Index in ``rpms`` -> sorted names of installed packages that satisfy its requires."""
    providers: dict[str, str] = {}
    for rpm in sorted(rpms, key=lambda r: r.name):
        providers.setdefault(rpm.name, rpm.name)
        for cap in rpm.provides:
            providers.setdefault(cap, rpm.name)
    wanted_files = {
        req for rpm in rpms for req in rpm.requires if req.startswith("/") and req not in providers
    }
    if wanted_files:
        for rpm in sorted(rpms, key=lambda r: r.name):
            for path in rpm.files():
                if path in wanted_files:
                    providers.setdefault(path, rpm.name)
    out: dict[int, list[str]] = {}
    for i, rpm in enumerate(rpms):
        names = {
            providers[req]
            for req in rpm.requires
            if req in providers and not req.startswith("rpmlib(")
        }
        names.discard(rpm.name)
        out[i] = sorted(names)
    return out


class RpmCataloger(DatabaseCataloger):
    """The rpm database, whichever backend wrote it."""

    name = "rpm"
    capture = DB_PATHS

    def _catalog_db(
        self, fs: ImageFS, ctx: CatalogContext, path: str, data: bytes, result: CatalogResult
    ) -> None:
        try:
            kind, blobs, problems = read_rpmdb(data)
        except RpmdbError as exc:
            result.issues.append(self.issue(path, str(exc)))
            return
        rpms: list[_Rpm] = []
        for number, blob in enumerate(blobs, 1):
            try:
                rpm = _Rpm(blob)
            except HeaderError as exc:
                problems.append(f"package header {number}: {exc}")
                continue
            if not rpm.name or not rpm.version:
                problems.append(f"package header {number} has no name or version")
                continue
            if rpm.name not in _SKIPPED_NAMES:
                rpms.append(rpm)
        for problem in problems[:MAX_PROBLEMS]:
            result.issues.append(self.issue(path, problem))
        if len(problems) > MAX_PROBLEMS:
            more = len(problems) - MAX_PROBLEMS
            result.issues.append(self.issue(path, f"{more} more problem(s) not listed"))
        depends = _resolve_requires(rpms)
        distro = ctx.distro
        namespace = namespace_for(distro)
        qualifier = distro_qualifier(distro) or ""
        db_layer = fs.layer_of(path)
        multi_layer = len(fs.layer_digests) > 1
        location = f"/{path}"
        for i, rpm in enumerate(rpms):
            arch = rpm.arch or ctx.architecture or ""
            source = parse_source_rpm(rpm.source_rpm) if rpm.source_rpm else None
            if source is None:
                source_name, source_version = rpm.name, rpm.evr
            else:
                source_name, source_version = source
                if rpm.epoch is not None:
                    source_version = f"{rpm.epoch}:{source_version}"
            layer = (earliest_layer(fs, rpm.files()) if multi_layer else None) or db_layer
            metadata: dict[str, object] = {"backend": kind, "release": rpm.release}
            if rpm.epoch is not None:
                metadata["epoch"] = rpm.epoch
            if rpm.source_rpm:
                metadata["sourceRpm"] = rpm.source_rpm
            if rpm.vendor:
                metadata["vendor"] = rpm.vendor
            if rpm.modularity:
                metadata["modularityLabel"] = rpm.modularity
            if rpm.size is not None:
                metadata["size"] = rpm.size
            vr = f"{rpm.version}-{rpm.release}" if rpm.release else rpm.version
            result.packages.append(
                Package(
                    name=rpm.name,
                    version=rpm.evr,
                    type="rpm",
                    purl=make_purl(
                        "rpm",
                        rpm.name,
                        vr,
                        namespace=namespace,
                        qualifiers={
                            "arch": arch,
                            "distro": qualifier,
                            "epoch": "" if rpm.epoch is None else str(rpm.epoch),
                        },
                    ),
                    source_name=source_name,
                    source_version=source_version,
                    licenses=[rpm.license] if rpm.license else [],
                    architecture=arch or None,
                    layer=layer,
                    locations=[location],
                    cataloger=self.name,
                    depends=depends[i],
                    metadata=metadata,
                )
            )
