"""Attack-surface facts about an image: shells, package managers, network tools, setuid
files, world-writable paths, the user it runs as, and its size and age.

The facts are measured, not judged: policy (what is acceptable) lives in the catalog. They
are cheap to collect: named binaries are found with a constant number of path lookups in
the usual ``PATH`` directories, and setuid/setgid/world-writable files with one pass over
the file index. Only two kinds of file content are read: ``etc/passwd`` (to resolve a user
name) and the busybox binary (to learn which applets it was built with).

Busybox rules
    * A busybox binary is itself listed as a shell (``busybox sh`` always works) with
      ``via`` None.
    * A symlink or hard link to busybox whose name is a shell or network tool is that
      applet: ``{"name": "wget", "path": "/usr/bin/wget", "via": "busybox"}``. A hard link
      is recognised by its tar link name, or by sharing the busybox entry's data location;
      a symlink to any file named ``busybox`` (even off the search path) counts too.
    * Network applets compiled into busybox but not linked anywhere on the search path are
      reported at the busybox binary: ``{"name": "wget", "path": "/bin/busybox",
      "via": "busybox"}``, because ``busybox wget`` works just the same. Which applets
      exist is read from busybox's own applet-name table; when that table cannot be found,
      one entry ``{"name": "busybox", "path": "/bin/busybox", "via": "busybox"}`` says that
      busybox may provide network applets we could not enumerate.

World-writable rule
    Regular files and directories with the ``o+w`` bit, except directories that also have
    the sticky bit (``/tmp``: others cannot remove or replace each other's files). Symlinks
    (always ``rwxrwxrwx``), devices and FIFOs are not reported.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict

from baseguard.humanize import format_days, format_size
from baseguard.image.fs import FileEntry, FileType, ImageFS, SymlinkLoopError, clean_path
from baseguard.image.model import ANNOTATION_BASE_DIGEST, ANNOTATION_BASE_NAME, Image

#: Directories searched for named binaries, in PATH-like order (``busybox`` is where
#: Google's distroless ``:debug`` images put their busybox).
SEARCH_DIRS = (
    "bin",
    "usr/bin",
    "sbin",
    "usr/sbin",
    "usr/local/bin",
    "usr/local/sbin",
    "busybox",
)

SHELL_NAMES = ("sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox")
PACKAGE_MANAGER_NAMES = (
    "apk",
    "apt",
    "apt-get",
    "dpkg",
    "rpm",
    "yum",
    "dnf",
    "microdnf",
    "tdnf",
    "zypper",
    "pip",
    "pip3",
    "npm",
    "gem",
)
NETWORK_TOOL_NAMES = (
    "curl",
    "wget",
    "nc",
    "netcat",
    "ncat",
    "telnet",
    "ftp",
    "ftpget",
    "ftpput",
    "ssh",
    "scp",
    "sftp",
    "socat",
    "nmap",
    "tftp",
)
#: Name used for pip importable as a module (``pythonX.Y -m pip``) without a pip script.
PIP_MODULE = "python -m pip"

#: Environment variables whose names contain one of these have their values redacted.
SECRET_MARKERS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL")
REDACTED = "<redacted>"

#: Busybox binaries larger than this are not scanned for their applet table.
BUSYBOX_READ_LIMIT = 16 << 20
#: Creation times before this year are reproducible-build placeholders (epoch, zero time).
PLACEHOLDER_YEAR = 1980

_APPLET_RE = re.compile(rb"[a-z0-9_.\[-]+")


class ToolRef(TypedDict):
    """A binary found on the search path; ``via`` is ``"busybox"`` for busybox applets."""

    name: str
    path: str
    via: str | None


class PathRef(TypedDict):
    """A package manager found in the image."""

    name: str
    path: str


class BaseImageRef(TypedDict):
    """The declared base image (OCI ``org.opencontainers.image.base.*`` annotations)."""

    name: str | None
    digest: str | None


@dataclass
class Facts:
    """What an image exposes. Lists are sorted; :meth:`to_dict` is deterministic JSON."""

    shells: list[ToolRef] = field(default_factory=list)
    has_shell: bool = False
    package_managers: list[PathRef] = field(default_factory=list)
    network_tools: list[ToolRef] = field(default_factory=list)
    setuid_files: list[str] = field(default_factory=list)
    setgid_files: list[str] = field(default_factory=list)
    world_writable: list[str] = field(default_factory=list)
    #: The config's ``User`` exactly as written ("" when unset).
    user: str = ""
    #: The uid the container starts with, when it can be known (number or passwd entry).
    uid: int | None = 0
    runs_as_root: bool = True
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    working_dir: str = ""
    #: Environment from the config; values of secret-looking names are ``<redacted>``.
    env: dict[str, str] = field(default_factory=dict)
    #: ``amd64``, ``arm64/v8``: architecture with its variant.
    architecture: str = ""
    os: str = ""
    layer_count: int = 0
    compressed_size: int = 0
    uncompressed_size: int = 0
    #: Number of regular files in the merged view.
    file_count: int = 0
    created: str | None = None
    age_days: int | None = None
    base_image: BaseImageRef | None = None
    labels: dict[str, str] = field(default_factory=dict)
    exposed_ports: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with sorted lists and keys, equal for equal facts."""
        return {
            "shells": [dict(t) for t in _sorted_tools(self.shells)],
            "has_shell": self.has_shell,
            "package_managers": [
                dict(p) for p in sorted(self.package_managers, key=lambda p: (p["name"], p["path"]))
            ],
            "network_tools": [dict(t) for t in _sorted_tools(self.network_tools)],
            "setuid_files": sorted(self.setuid_files),
            "setgid_files": sorted(self.setgid_files),
            "world_writable": sorted(self.world_writable),
            "user": self.user,
            "uid": self.uid,
            "runs_as_root": self.runs_as_root,
            "entrypoint": list(self.entrypoint),
            "cmd": list(self.cmd),
            "working_dir": self.working_dir,
            "env": dict(sorted(self.env.items())),
            "architecture": self.architecture,
            "os": self.os,
            "layer_count": self.layer_count,
            "compressed_size": self.compressed_size,
            "uncompressed_size": self.uncompressed_size,
            "file_count": self.file_count,
            "created": self.created,
            "age_days": self.age_days,
            "base_image": dict(self.base_image) if self.base_image is not None else None,
            "labels": dict(sorted(self.labels.items())),
            "exposed_ports": sorted(self.exposed_ports),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Facts:
        """Read back what :meth:`to_dict` wrote (for stored analyses and SBOM round trips)."""

        def tools(key: str) -> list[ToolRef]:
            return [
                ToolRef(name=str(t["name"]), path=str(t["path"]), via=t.get("via"))
                for t in data.get(key) or []
            ]

        base = data.get("base_image")
        uid = data.get("uid")
        age = data.get("age_days")
        return cls(
            shells=tools("shells"),
            has_shell=bool(data.get("has_shell", False)),
            package_managers=[
                PathRef(name=str(p["name"]), path=str(p["path"]))
                for p in data.get("package_managers") or []
            ],
            network_tools=tools("network_tools"),
            setuid_files=[str(p) for p in data.get("setuid_files") or []],
            setgid_files=[str(p) for p in data.get("setgid_files") or []],
            world_writable=[str(p) for p in data.get("world_writable") or []],
            user=str(data.get("user") or ""),
            uid=int(uid) if uid is not None else None,
            runs_as_root=bool(data.get("runs_as_root", False)),
            entrypoint=[str(v) for v in data.get("entrypoint") or []],
            cmd=[str(v) for v in data.get("cmd") or []],
            working_dir=str(data.get("working_dir") or ""),
            env={str(k): str(v) for k, v in (data.get("env") or {}).items()},
            architecture=str(data.get("architecture") or ""),
            os=str(data.get("os") or ""),
            layer_count=int(data.get("layer_count") or 0),
            compressed_size=int(data.get("compressed_size") or 0),
            uncompressed_size=int(data.get("uncompressed_size") or 0),
            file_count=int(data.get("file_count") or 0),
            created=data.get("created"),
            age_days=int(age) if age is not None else None,
            base_image=(
                BaseImageRef(name=base.get("name"), digest=base.get("digest"))
                if isinstance(base, dict)
                else None
            ),
            labels={str(k): str(v) for k, v in (data.get("labels") or {}).items()},
            exposed_ports=[str(p) for p in data.get("exposed_ports") or []],
        )


def _sorted_tools(tools: Iterable[ToolRef]) -> list[ToolRef]:
    return sorted(tools, key=lambda t: (t["name"], t["path"], t["via"] or ""))


# -- binaries on the search path ------------------------------------------------------------


def _safe_resolve(fs: ImageFS, path: str) -> str | None:
    try:
        return fs.resolve(path)
    except SymlinkLoopError:
        return None


def _search_dirs(fs: ImageFS) -> list[tuple[str, str]]:
    """(spelling, resolved) for each search dir that exists, first spelling per real dir."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for spelled in SEARCH_DIRS:
        real = _safe_resolve(fs, spelled)
        if real is None or real in seen:
            continue
        entry = fs.entries.get(real)
        if entry is None or entry.type is not FileType.DIRECTORY:
            continue
        seen.add(real)
        out.append((spelled, real))
    return out


@dataclass
class _Found:
    name: str
    path: str  # image path as spelled through the search dir, no leading slash
    target: FileEntry  # the regular file it resolves to


def _find(fs: ImageFS, dirs: list[tuple[str, str]], names: Iterable[str]) -> list[_Found]:
    """Regular files reachable as ``<dir>/<name>``; dangling or looping links are skipped."""
    found: list[_Found] = []
    for name in names:
        for spelled, real in dirs:
            if f"{real}/{name}" not in fs.entries:
                continue
            target = fs.lookup(f"{real}/{name}")
            if target is None or target.type is not FileType.REGULAR:
                continue
            found.append(_Found(name, f"{spelled}/{name}", target))
    return found


@dataclass
class _Busybox:
    """Every identity a busybox binary has: resolved paths and tar data locations."""

    paths: dict[str, str] = field(default_factory=dict)  # real path -> path as found
    aliases: set[str] = field(default_factory=set)
    locations: set[tuple[int, int]] = field(default_factory=set)

    @classmethod
    def from_found(cls, found: list[_Found]) -> _Busybox:
        bb = cls()
        for f in found:
            entry = f.target
            bb.paths.setdefault(entry.path, f.path)
            bb.aliases.add(entry.path)
            if entry.linkname:  # a hard link: the member it links to is busybox too
                alias = clean_path(entry.linkname)
                if alias:
                    bb.aliases.add(alias)
            if entry.location >= 0:
                bb.locations.add((entry.layer, entry.location))
        return bb

    def provides(self, entry: FileEntry) -> bool:
        """True if ``entry`` (a resolved regular file) is a busybox, however linked."""
        if entry.path in self.aliases or posixpath.basename(entry.path) == "busybox":
            return True
        if entry.linkname:
            alias = clean_path(entry.linkname)
            if alias and alias in self.aliases:
                return True
        return entry.location >= 0 and (entry.layer, entry.location) in self.locations


def busybox_applets(binary: bytes) -> set[str] | None:
    """The applet names compiled into a busybox binary, or None if the table is not found.

    Busybox keeps its applet names as one sorted, NUL-separated string starting with the
    ``[`` and ``[[`` test applets and ending with an empty string.
    """
    start = binary.find(b"[\x00[[\x00")
    if start < 0:
        return None
    end = binary.find(b"\x00\x00", start)
    if end < 0:
        return None
    names = binary[start:end].split(b"\x00")
    if not all(_APPLET_RE.fullmatch(n) for n in names) or names != sorted(names):
        return None
    return {n.decode("ascii") for n in names}


def _tool(f: _Found, busybox: _Busybox) -> ToolRef:
    via = "busybox" if f.name != "busybox" and busybox.provides(f.target) else None
    return ToolRef(name=f.name, path=f"/{f.path}", via=via)


# -- the one pass over the index --------------------------------------------------------------


@dataclass
class _Scan:
    setuid: list[str] = field(default_factory=list)
    setgid: list[str] = field(default_factory=list)
    world_writable: list[str] = field(default_factory=list)
    pip_modules: set[str] = field(default_factory=set)
    file_count: int = 0


_PIP_DIR_SUFFIXES = ("/site-packages/pip", "/dist-packages/pip")
_PIP_INIT_SUFFIXES = ("/site-packages/pip/__init__.py", "/dist-packages/pip/__init__.py")


def _scan(fs: ImageFS) -> _Scan:
    scan = _Scan()
    for e in fs:
        kind = e.type
        if kind is FileType.REGULAR:
            scan.file_count += 1
            if e.mode & 0o4000:
                scan.setuid.append(f"/{e.path}")
            if e.mode & 0o2000:
                scan.setgid.append(f"/{e.path}")
            if e.mode & 0o002:
                scan.world_writable.append(f"/{e.path}")
            if e.path.endswith(_PIP_INIT_SUFFIXES):
                scan.pip_modules.add(e.path[: -len("/__init__.py")])
        elif kind is FileType.DIRECTORY:
            if e.mode & 0o002 and not e.mode & 0o1000:
                scan.world_writable.append(f"/{e.path}")
            if e.path.endswith(_PIP_DIR_SUFFIXES):
                scan.pip_modules.add(e.path)
    scan.setuid.sort()
    scan.setgid.sort()
    scan.world_writable.sort()
    return scan


# -- user --------------------------------------------------------------------------------------


def parse_passwd(text: str) -> dict[str, int]:
    """User name -> uid from ``/etc/passwd`` text; malformed lines are skipped."""
    users: dict[str, int] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < 3 or not parts[0]:
            continue
        try:
            uid = int(parts[2])
        except ValueError:
            continue
        users.setdefault(parts[0], uid)
    return users


def resolve_user(user: str, fs: ImageFS) -> tuple[int | None, bool]:
    """(uid, runs_as_root) for a config ``User`` value (``name|uid[:group|gid]``).

    An empty user is root. A name is resolved through the image's ``etc/passwd``; ``root``
    is uid 0 even without one. A name that cannot be resolved gives ``(None, False)``: the
    runtime would refuse to start the container rather than run it as root.
    """
    name = user.strip().partition(":")[0].strip()
    if not name:
        return 0, True
    if name.isdigit():
        uid = int(name)
        return uid, uid == 0
    data = fs.read_optional("etc/passwd", limit=4 << 20)
    users = parse_passwd(data.decode("utf-8", errors="replace")) if data is not None else {}
    if name in users:
        return users[name], users[name] == 0
    if name == "root":
        return 0, True
    return None, False


# -- the rest of the config ------------------------------------------------------------------


def redact_env(env: Iterable[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings to a dict, with secret-looking values replaced (last one wins)."""
    out: dict[str, str] = {}
    for item in env:
        key, _, value = item.partition("=")
        if not key:
            continue
        upper = key.upper()
        out[key] = REDACTED if any(m in upper for m in SECRET_MARKERS) else value
    return out


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _age_days(created: datetime | None, now: datetime) -> int | None:
    if created is None or created.year < PLACEHOLDER_YEAR:
        return None
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0, (now - created).days)


def _base_image(image: Image) -> BaseImageRef | None:
    labels = image.config.labels
    name = image.annotations.get(ANNOTATION_BASE_NAME) or labels.get(ANNOTATION_BASE_NAME)
    digest = image.annotations.get(ANNOTATION_BASE_DIGEST) or labels.get(ANNOTATION_BASE_DIGEST)
    if not name and not digest:
        return None
    return BaseImageRef(name=name or None, digest=digest or None)


# -- entry point -------------------------------------------------------------------------------


def collect_facts(image: Image, fs: ImageFS, *, now: datetime | None = None) -> Facts:
    """Measure the attack surface of ``image`` whose merged files are ``fs``.

    ``now`` (default: the current UTC time) fixes the reference point for ``age_days``.
    """
    now = now or datetime.now(UTC)
    dirs = _search_dirs(fs)

    bb_found = _find(fs, dirs, ["busybox"])
    busybox = _Busybox.from_found(bb_found)

    shells = [_tool(f, busybox) for f in _find(fs, dirs, SHELL_NAMES)]
    network = [_tool(f, busybox) for f in _find(fs, dirs, NETWORK_TOOL_NAMES)]
    managers = [
        PathRef(name=f.name, path=f"/{f.path}") for f in _find(fs, dirs, PACKAGE_MANAGER_NAMES)
    ]

    if busybox.paths:
        linked = {t["name"] for t in network}
        binaries = fs.read_many(sorted(busybox.paths), limit=BUSYBOX_READ_LIMIT)
        for real, spelled in sorted(busybox.paths.items()):
            applets = busybox_applets(binaries.get(real, b""))
            if applets is None:
                network.append(ToolRef(name="busybox", path=f"/{spelled}", via="busybox"))
                continue
            for name in sorted(applets.intersection(NETWORK_TOOL_NAMES) - linked):
                network.append(ToolRef(name=name, path=f"/{spelled}", via="busybox"))
            linked |= applets.intersection(NETWORK_TOOL_NAMES)

    scan = _scan(fs)
    managers.extend(PathRef(name=PIP_MODULE, path=f"/{p}") for p in sorted(scan.pip_modules))

    cfg = image.config
    uid, as_root = resolve_user(cfg.user, fs)
    arch = f"{cfg.architecture}/{cfg.variant}" if cfg.variant else cfg.architecture
    return Facts(
        shells=_sorted_tools(shells),
        has_shell=bool(shells),
        package_managers=sorted(managers, key=lambda p: (p["name"], p["path"])),
        network_tools=_sorted_tools(network),
        setuid_files=scan.setuid,
        setgid_files=scan.setgid,
        world_writable=scan.world_writable,
        user=cfg.user,
        uid=uid,
        runs_as_root=as_root,
        entrypoint=list(cfg.entrypoint),
        cmd=list(cfg.cmd),
        working_dir=cfg.working_dir,
        env=redact_env(cfg.env),
        architecture=arch,
        os=cfg.os,
        layer_count=len(image.layers),
        compressed_size=image.compressed_size,
        uncompressed_size=fs.uncompressed_size,
        file_count=scan.file_count,
        created=_iso(cfg.created) if cfg.created is not None else None,
        age_days=_age_days(cfg.created, now),
        base_image=_base_image(image),
        labels=dict(sorted(cfg.labels.items())),
        exposed_ports=sorted(cfg.exposed_ports),
    )


# -- human summary -----------------------------------------------------------------------------


def _tool_labels(tools: Iterable[ToolRef]) -> str:
    labels: list[str] = []
    for t in tools:
        label = f"{t['name']} ({t['via']})" if t["via"] else t["name"]
        if label not in labels:
            labels.append(label)
    return ", ".join(labels) if labels else "none"


def _paths_summary(paths: list[str], shown: int = 5) -> str:
    if not paths:
        return "none"
    head = ", ".join(paths[:shown])
    more = f", … (+{len(paths) - shown} more)" if len(paths) > shown else ""
    return f"{len(paths)}: {head}{more}"


def runs_as_text(facts: Facts) -> str:
    """``root (User unset)``, ``nonroot (uid 65532)``, ``uid 1000``…"""
    user = facts.user.strip()
    name = user.partition(":")[0]
    if not user:
        return "root (User unset)"
    if facts.runs_as_root:
        if name == "root" or name.isdigit():
            return "root" if user == "root" else f"root (User {user})"
        return f"root (User {user} is uid 0 in /etc/passwd)"
    if name.isdigit():
        return f"uid {facts.uid}"
    if facts.uid is None:
        return f"{name} (not in /etc/passwd)"
    return f"{name} (uid {facts.uid})"


def summary_rows(facts: Facts) -> list[tuple[str, str]]:
    """(label, value) rows for a human table; the CLI renders them."""
    platform = "/".join(p for p in (facts.os, facts.architecture) if p) or "unknown"
    if facts.created is None:
        created = "unknown"
    elif facts.age_days is None:
        created = f"{facts.created} (placeholder timestamp)"
    else:
        created = f"{facts.created} ({format_days(facts.age_days)} ago)"
    rows: list[tuple[str, str]] = [
        ("Platform", platform),
        ("Created", created),
    ]
    if facts.base_image is not None:
        base = facts.base_image["name"] or ""
        if facts.base_image["digest"]:
            base = f"{base}@{facts.base_image['digest']}" if base else facts.base_image["digest"]
        rows.append(("Base image", base))
    rows += [
        ("Layers", str(facts.layer_count)),
        (
            "Size",
            f"{format_size(facts.compressed_size)} compressed, "
            f"{format_size(facts.uncompressed_size)} uncompressed",
        ),
        ("Files", str(facts.file_count)),
        ("Shell", _tool_labels(facts.shells)),
        (
            "Package managers",
            ", ".join(dict.fromkeys(p["name"] for p in facts.package_managers)) or "none",
        ),
        ("Network tools", _tool_labels(facts.network_tools)),
        ("Runs as", runs_as_text(facts)),
        ("Setuid files", _paths_summary(facts.setuid_files)),
        ("Setgid files", _paths_summary(facts.setgid_files)),
        ("World-writable", _paths_summary(facts.world_writable)),
        ("Entrypoint", " ".join(facts.entrypoint) or "none"),
        ("Cmd", " ".join(facts.cmd) or "none"),
        ("Exposed ports", ", ".join(facts.exposed_ports) or "none"),
    ]
    return rows
