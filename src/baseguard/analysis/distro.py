"""Which operating system an image is built on, from its release files.

``etc/os-release`` (or ``usr/lib/os-release``) is the primary source; ``etc/alpine-release``,
``etc/debian_version``, ``etc/redhat-release`` and ``etc/system-release`` are fallbacks for
images that lack it. On top of the distribution itself we recognise *variants* that matter
for hardening: Google distroless, Wolfi/Chainguard, and scratch (no OS at all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from baseguard.image.fs import ImageFS

OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")
FALLBACK_PATHS = (
    "etc/alpine-release",
    "etc/debian_version",
    "etc/redhat-release",
    "etc/system-release",
)

#: Package databases: an image with none of these and no release file is "scratch".
PACKAGE_DB_PATHS = (
    "var/lib/dpkg/status",
    "var/lib/dpkg/status.d",
    "lib/apk/db/installed",
    "usr/lib/apk/db/installed",
    "var/lib/rpm",
    "usr/lib/sysimage/rpm",
)

#: Shells whose absence (with dpkg's ``status.d`` and no ``status``) marks Debian distroless.
_SHELL_PATHS = (
    "bin/sh",
    "bin/bash",
    "bin/dash",
    "bin/busybox",
    "usr/bin/sh",
    "usr/bin/bash",
    "usr/bin/dash",
    "usr/bin/busybox",
)

DEBIAN_CODENAMES: dict[str, str] = {
    "6": "squeeze",
    "7": "wheezy",
    "8": "jessie",
    "9": "stretch",
    "10": "buster",
    "11": "bullseye",
    "12": "bookworm",
    "13": "trixie",
    "14": "forky",
    "15": "duke",
}

UBUNTU_CODENAMES: dict[str, str] = {
    "14.04": "trusty",
    "16.04": "xenial",
    "18.04": "bionic",
    "20.04": "focal",
    "20.10": "groovy",
    "21.04": "hirsute",
    "21.10": "impish",
    "22.04": "jammy",
    "22.10": "kinetic",
    "23.04": "lunar",
    "23.10": "mantic",
    "24.04": "noble",
    "24.10": "oracular",
    "25.04": "plucky",
    "25.10": "questing",
}

#: ``<name> release <version> (<codename>)`` prefixes in redhat-release/system-release.
_REDHAT_NAMES: tuple[tuple[str, str], ...] = (
    ("red hat enterprise linux", "rhel"),
    ("centos stream", "centos"),
    ("centos", "centos"),
    ("rocky linux", "rocky"),
    ("almalinux", "almalinux"),
    ("fedora", "fedora"),
    ("amazon linux", "amzn"),
    ("oracle linux", "ol"),
)

_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RELEASE_RE = re.compile(
    r"^(?P<name>.+?)\s+release\s+(?P<version>[0-9][0-9.]*)\s*(?:\((?P<codename>[^)]*)\))?"
)
_PAREN_RE = re.compile(r"\(([^)]+)\)")


@dataclass
class Distro:
    """The operating system an image is built on, and how we know it."""

    id: str | None = None
    version_id: str | None = None
    version: str | None = None
    codename: str | None = None
    name: str | None = None
    pretty_name: str | None = None
    id_like: list[str] = field(default_factory=list)
    #: "distroless", "scratch", "wolfi", "chainguard" or None for a plain distribution.
    variant: str | None = None
    #: The file that told us (``etc/os-release``, ``etc/alpine-release``…) or ``none``.
    source: str = "none"

    @property
    def display(self) -> str:
        """A short human label: ``alpine 3.20.3``, ``debian 12 (bookworm)``, ``scratch``."""
        if self.variant == "scratch":
            return "scratch"
        release = " ".join(p for p in (self.id, self.version_id or self.version) if p)
        if self.variant == "distroless":
            inner = " ".join(p for p in (self.id, self.version_id) if p)
            return f"distroless ({inner})" if inner else "distroless"
        if self.codename and self.variant is None:
            return f"{release} ({self.codename})" if release else self.codename
        return release or "unknown"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with every field and ``display``."""
        return {
            "id": self.id,
            "version_id": self.version_id,
            "version": self.version,
            "codename": self.codename,
            "name": self.name,
            "pretty_name": self.pretty_name,
            "id_like": list(self.id_like),
            "variant": self.variant,
            "source": self.source,
            "display": self.display,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Distro:
        """Read back what :meth:`to_dict` wrote (``display`` is ignored)."""

        def opt(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        return cls(
            id=opt("id"),
            version_id=opt("version_id"),
            version=opt("version"),
            codename=opt("codename"),
            name=opt("name"),
            pretty_name=opt("pretty_name"),
            id_like=[str(v) for v in data.get("id_like") or []],
            variant=opt("variant"),
            source=str(data.get("source") or "none"),
        )


def parse_os_release(text: str) -> dict[str, str]:
    """Parse os-release(5) text: shell-style ``KEY=VALUE`` lines, quotes and escapes.

    Comments, blank lines and lines that are not assignments (junk, unbalanced quotes) are
    skipped. A later assignment of a key wins, as it would in a shell.
    """
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not _KEY_RE.fullmatch(key):
            continue
        words = _shell_words(value)
        if words is None:
            continue
        # A correct file has one word; an unquoted value with spaces is accepted leniently.
        out[key] = " ".join(words)
    return out


_DQUOTE_ESCAPES = frozenset('$`"\\\n')


def _shell_words(text: str) -> list[str] | None:
    """Split ``text`` into shell words (quotes, backslashes, ``#`` comments).

    Inside double quotes a backslash escapes only ``$ ` " \\`` and newline, as in sh;
    elsewhere it escapes any character. ``None`` for an unterminated quote.
    """
    words: list[str] = []
    current: list[str] = []
    in_word = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t":
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            i += 1
        elif ch == "#" and not in_word:
            break
        elif ch == "\\":
            if i + 1 < n:
                current.append(text[i + 1])
            in_word = True
            i += 2
        elif ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                return None
            current.append(text[i + 1 : end])
            in_word = True
            i = end + 1
        elif ch == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n and text[i + 1] in _DQUOTE_ESCAPES:
                    current.append(text[i + 1])
                    i += 2
                else:
                    current.append(text[i])
                    i += 1
            if i >= n:
                return None
            in_word = True
            i += 1
        else:
            current.append(ch)
            in_word = True
            i += 1
    if in_word:
        words.append("".join(current))
    return words


def _text(data: bytes | None) -> str | None:
    if data is None:
        return None
    return data.decode("utf-8", errors="replace")


def _codename_for(distro_id: str | None, version_id: str | None) -> str | None:
    if not version_id:
        return None
    if distro_id == "debian":
        return DEBIAN_CODENAMES.get(version_id.split(".")[0])
    if distro_id == "ubuntu":
        return UBUNTU_CODENAMES.get(".".join(version_id.split(".")[:2]))
    return None


def _from_os_release(values: dict[str, str], source: str) -> Distro:
    distro_id = values.get("ID", "").strip().lower() or None
    version_id = values.get("VERSION_ID") or None
    version = values.get("VERSION") or None
    codename = (
        values.get("VERSION_CODENAME")
        or values.get("UBUNTU_CODENAME")
        or _codename_for(distro_id, version_id)
    )
    if not codename and version:
        match = _PAREN_RE.search(version)
        codename = match.group(1) if match else None
    variant: str | None = None
    if distro_id in ("wolfi", "chainguard"):
        variant = distro_id
    pretty = values.get("PRETTY_NAME") or None
    urls = " ".join(
        values.get(k, "") for k in ("HOME_URL", "SUPPORT_URL", "BUG_REPORT_URL")
    ).lower()
    if (pretty or "").strip().lower() == "distroless" or "googlecontainertools/distroless" in urls:
        variant = "distroless"
    return Distro(
        id=distro_id,
        version_id=version_id,
        version=version,
        codename=codename or None,
        name=values.get("NAME") or None,
        pretty_name=pretty,
        id_like=values.get("ID_LIKE", "").lower().split(),
        variant=variant,
        source=source,
    )


def _from_debian_version(text: str) -> Distro:
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    if re.fullmatch(r"[0-9]+(\.[0-9]+)*", first):
        major = first.split(".")[0]
        codename = DEBIAN_CODENAMES.get(major)
        return Distro(
            id="debian",
            version_id=major,
            version=first,
            codename=codename,
            name="Debian GNU/Linux",
            pretty_name=f"Debian GNU/Linux {major}" + (f" ({codename})" if codename else ""),
            source="etc/debian_version",
        )
    # "bookworm/sid": the testing release that will become <codename>.
    codename, _, _ = first.partition("/")
    return Distro(
        id="debian",
        version="testing" if codename and codename != "sid" else "unstable",
        codename=codename or None,
        name="Debian GNU/Linux",
        pretty_name=f"Debian GNU/Linux {first}" if first else "Debian GNU/Linux",
        source="etc/debian_version",
    )


def _from_redhat_release(text: str, source: str) -> Distro | None:
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    match = _RELEASE_RE.match(line)
    if not match:
        return None
    name = match.group("name").strip()
    lowered = name.lower()
    distro_id = next((i for prefix, i in _REDHAT_NAMES if lowered.startswith(prefix)), None)
    if distro_id is None:
        distro_id = re.sub(r"[^a-z0-9]+", "", lowered.split()[0]) or None
    version = match.group("version")
    codename = (match.group("codename") or "").strip() or None
    # CentOS writes 7.9.2009 here but VERSION_ID="7" in os-release; keep the major.
    version_id = version.split(".")[0] if distro_id == "centos" else version
    return Distro(
        id=distro_id,
        version_id=version_id,
        version=f"{version} ({codename})" if codename else version,
        codename=codename,
        name=name,
        pretty_name=line,
        source=source,
    )


def _exists(fs: ImageFS, path: str) -> bool:
    return fs.lookup(path) is not None  # lookup treats loops and dangling links as missing


def _is_debian_distroless(fs: ImageFS) -> bool:
    """dpkg's per-package ``status.d`` without ``status`` and without any shell."""
    if not _exists(fs, "var/lib/dpkg/status.d") or _exists(fs, "var/lib/dpkg/status"):
        return False
    return not any(fs.is_file(p) for p in _SHELL_PATHS)


def detect_distro(fs: ImageFS) -> Distro:
    """Identify the image's distribution and variant from its release files.

    Reads all candidate files in one :meth:`ImageFS.read_many` call. An image with no
    release file and no package database is reported as ``scratch`` (``id`` None).
    """
    files = fs.read_many([*OS_RELEASE_PATHS, *FALLBACK_PATHS], limit=64 << 10)

    for path in OS_RELEASE_PATHS:
        text = _text(files.get(path))
        if text is None:
            continue
        values = parse_os_release(text)
        if not values.get("ID") and not values.get("NAME"):
            continue
        distro = _from_os_release(values, path)
        if distro.id == "debian" and distro.variant is None and _is_debian_distroless(fs):
            distro.variant = "distroless"
        if distro.id == "debian" and distro.version_id is None and distro.version is None:
            # Testing/unstable: os-release has no VERSION_ID; debian_version says "x/sid".
            dv = _text(files.get("etc/debian_version"))
            if dv is not None:
                fallback = _from_debian_version(dv)
                distro.version = fallback.version
                distro.codename = distro.codename or fallback.codename
        return distro

    alpine = _text(files.get("etc/alpine-release"))
    if alpine is not None and alpine.strip():
        version_id = alpine.strip().splitlines()[0].strip()
        return Distro(
            id="alpine",
            version_id=version_id,
            name="Alpine Linux",
            pretty_name=f"Alpine Linux v{'.'.join(version_id.split('.')[:2])}",
            source="etc/alpine-release",
        )

    debian = _text(files.get("etc/debian_version"))
    if debian is not None and debian.strip():
        distro = _from_debian_version(debian)
        if _is_debian_distroless(fs):
            distro.variant = "distroless"
        return distro

    for path in ("etc/redhat-release", "etc/system-release"):
        text = _text(files.get(path))
        if text is None:
            continue
        found = _from_redhat_release(text, path)
        if found is not None:
            return found

    if not any(_exists(fs, p) for p in PACKAGE_DB_PATHS):
        return Distro(variant="scratch", source="none")
    return Distro(source="none")
