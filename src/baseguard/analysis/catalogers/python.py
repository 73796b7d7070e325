"""Python packages installed in any ``site-packages`` or ``dist-packages`` directory.

Reads the core metadata of each installed distribution: ``*.dist-info/METADATA`` (wheels,
pip), ``*.egg-info/PKG-INFO`` (setuptools, Debian's python3-* packages) and ``*.egg-info``
when it is a single file. All are small and captured while the layers are indexed.

The purl follows the purl spec's pypi rule (name lowercased, ``_`` replaced by ``-``:
``pkg:pypi/typing-extensions@4.12.2``); :attr:`Package.name` keeps the name as the
distribution spells it. ``depends`` holds PEP 503-normalised names (lowercase, runs of
``-_.`` as one ``-``) of the non-optional ``Requires-Dist`` entries: compare them with
:func:`~baseguard.vulndb.names.normalize_pypi` of a package's name.
"""

from __future__ import annotations

import posixpath
import re
from typing import ClassVar

from baseguard.analysis.catalogers.base import CatalogContext, Cataloger, CatalogResult
from baseguard.analysis.catalogers.langutil import find_files, image_path
from baseguard.analysis.packages import Package, make_purl
from baseguard.image.fs import ImageFS
from baseguard.vulndb.names import normalize_pypi

_META_RE = re.compile(
    r"(?:^|/)(?:site|dist)-packages/[^/]+\.(?:dist-info/METADATA|egg-info/PKG-INFO|egg-info)$"
)

#: Core metadata files are small; a bigger one is certainly not metadata.
MAX_METADATA_BYTES = 16 << 20

_NAME_RE = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_EXTRA_RE = re.compile(r"\bextra\s*==")

#: ``License ::`` classifiers that name exactly one SPDX license.
_CLASSIFIER_SPDX = {
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "ISC License (ISCL)": "ISC",
    "Apache Software License": "Apache-2.0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "The Unlicense (Unlicense)": "Unlicense",
    "Zero-Clause BSD (0BSD)": "0BSD",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
}


def purl_name(name: str) -> str:
    """The purl spec's pypi name rule: lowercase, ``_`` replaced by ``-`` (dots are kept)."""
    return name.lower().replace("_", "-")


def parse_headers(text: str) -> list[tuple[str, str]]:
    """The RFC 822-style header block of a METADATA/PKG-INFO file, in order.

    Header names are returned lowercased; continuation lines (starting with whitespace) are
    joined to their header with a newline. The block ends at the first empty line or at a
    line that is not a header (the body). A line of only whitespace is a continuation, as
    the email parser reads it: projects paste whole license texts into ``License:``.
    """
    headers: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line:
            break
        if line[0] in " \t":  # a folded line, even one of only spaces (a pasted license text)
            if headers:
                key, value = headers[-1]
                headers[-1] = (key, f"{value}\n{line.strip()}")
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key.strip():
            break
        headers.append((key.strip().lower(), value.strip()))
    return headers


def _first(headers: list[tuple[str, str]], key: str) -> str:
    for k, v in headers:
        if k == key and v:
            return v
    return ""


def licenses_of(headers: list[tuple[str, str]]) -> list[str]:
    """``License-Expression`` if present; else a short ``License``; else the classifiers."""
    expression = _first(headers, "license-expression")
    if expression:
        return [expression]
    text = _first(headers, "license").strip()
    # Some projects paste their whole license text into License: that is not a name.
    if text and text.upper() not in ("UNKNOWN", "NONE") and "\n" not in text and len(text) <= 100:
        return [text]
    out: list[str] = []
    for key, value in headers:
        if key != "classifier" or not value.startswith("License ::"):
            continue
        parts = [p.strip() for p in value.split("::")]
        last = parts[-1]
        if len(parts) < 2 or last in ("OSI Approved", "License"):
            continue
        name = _CLASSIFIER_SPDX.get(last, last)
        if name not in out:
            out.append(name)
    return out


def requirement_name(spec: str) -> str | None:
    """The distribution name a PEP 508 requirement names, or ``None`` if unparsable."""
    m = _NAME_RE.match(spec)
    return m.group(1) if m else None


def depends_of(headers: list[tuple[str, str]]) -> list[str]:
    """Normalised names of ``Requires-Dist`` entries that are not extras-only."""
    names: set[str] = set()
    for key, value in headers:
        if key != "requires-dist":
            continue
        _, _, marker = value.partition(";")
        if _EXTRA_RE.search(marker):
            continue
        name = requirement_name(value)
        if name:
            names.add(normalize_pypi(name))
    return sorted(names)


def depends_from_requires_txt(text: str) -> list[str]:
    """Names from an egg-info ``requires.txt``: lines before any ``[extra]`` section
    (sections that hold only an environment marker, ``[:python_version<"3.8"]``, count)."""
    names: set[str] = set()
    in_extra = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            in_extra = not line.startswith("[:")
            continue
        if in_extra:
            continue
        name = requirement_name(line)
        if name:
            names.add(normalize_pypi(name))
    return sorted(names)


class PythonCataloger(Cataloger):
    """Python distributions (wheel ``.dist-info`` and setuptools ``.egg-info`` metadata)."""

    name: ClassVar[str] = "python"
    #: METADATA, PKG-INFO and requires.txt in ``*.dist-info``/``*.egg-info`` directories,
    #: and ``*.egg-info`` files, under any ``*-packages`` directory. Written with ``**``
    #: inside a component (any characters) rather than ``**/`` (whole directories): the
    #: patterns run against every path of every layer, and this form is ~5x cheaper there
    #: (26 ms instead of 145 ms for the four python+npm patterns over 57k paths). The
    #: catalog step filters exactly (``site-packages``/``dist-packages`` only).
    capture: ClassVar[tuple[str, ...]] = (
        "**-packages/*.*-info/[MPr]*",
        "**-packages/*.egg-info",
    )

    def catalog(self, fs: ImageFS, ctx: CatalogContext) -> CatalogResult:
        result = CatalogResult()
        paths = find_files(fs, _META_RE, ("-packages/",))
        if not paths:
            return result
        requires = [
            posixpath.join(posixpath.dirname(p), "requires.txt")
            for p in paths
            if p.endswith(".egg-info/PKG-INFO")
        ]
        contents = fs.read_many([*paths, *requires], MAX_METADATA_BYTES)
        for path in paths:
            data = contents.get(path)
            if data is None:
                continue
            requires_txt = None
            if path.endswith(".egg-info/PKG-INFO"):
                raw = contents.get(posixpath.join(posixpath.dirname(path), "requires.txt"))
                requires_txt = raw.decode("utf-8", "replace") if raw is not None else None
            package = self._package(fs, path, data, requires_txt, result)
            if package is not None:
                result.packages.append(package)
        return result

    def _package(
        self,
        fs: ImageFS,
        path: str,
        data: bytes,
        requires_txt: str | None,
        result: CatalogResult,
    ) -> Package | None:
        text = data.decode("utf-8", "replace").lstrip("\ufeff")
        headers = parse_headers(text)
        name = _first(headers, "name").strip()
        version = _first(headers, "version").strip()
        missing = [h for h, v in (("Name", name), ("Version", version)) if not v]
        if missing:
            result.issues.append(
                self.issue(path, f"not core metadata: no {' or '.join(missing)} header")
            )
            return None
        depends = depends_of(headers)
        if requires_txt is not None and not depends:
            depends = depends_from_requires_txt(requires_txt)
        meta_dir = path if path.endswith(".egg-info") else posixpath.dirname(path)
        site = posixpath.dirname(meta_dir)
        return Package(
            name=name,
            version=version,
            type="pypi",
            purl=make_purl("pypi", purl_name(name), version),
            licenses=licenses_of(headers),
            layer=fs.layer_of(path),
            locations=[image_path(path)],
            cataloger=self.name,
            depends=depends,
            metadata={"sitePackages": image_path(site)},
        )
