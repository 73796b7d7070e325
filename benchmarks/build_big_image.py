"""Build (once, cached) the larger benchmark image as an OCI layout: five real layers.

The image is what a typical Python + Node.js service image looks like:

  1. `debootstrap --variant=minbase bookworm` (the same root as analyze_vs_syft.py uses);
  2. `apt-get install --no-install-recommends python3 python3-pip python3-venv nodejs npm`
     run in a chroot on a copy of that root, then `apt-get clean && rm -rf
     /var/lib/apt/lists/*`; the layer is the real diff of the two roots: files added or
     changed, their parent directories, and OCI whiteouts (`.wh.NAME`) for files removed;
  3. about 50 pinned PyPI packages installed by pip into /usr/local/lib/python3.11/dist-packages
     (scripts into /usr/local/bin);
  4. a node_modules tree under /app from `npm install --ignore-scripts` of pinned packages
     with deep dependency trees (express, webpack, eslint, typescript...);
  5. small app files, and whiteouts of a pip package (six) and of /etc/motd from lower layers.

Layers are written the way Docker's and BuildKit's archivers write them: POSIX tar with a USTAR
header where the entry fits and PAX records only where needed (long names), names relative to
the root without "./", directories with a trailing "/", numeric owners preserved and user/group
names left empty, mtimes truncated to seconds, hard links as link entries, no device nodes,
gzip without a file name or time in its header. Run as root (debootstrap, chroot):

    .venv/bin/python benchmarks/build_big_image.py [--rebuild]

Re-running reuses everything under benchmarks/.cache/ (each layer is cached on its own).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from baseguard.image.write import write_oci_layout

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
ROOT1 = CACHE / "bookworm-root"
WORK = CACHE / "big-image"
LAYOUT = CACHE / "big-oci"
SUMMARY = CACHE / "big-oci.json"

APT_PACKAGES = ["python3", "python3-pip", "python3-venv", "nodejs", "npm"]
SITE = "usr/local/lib/python3.11/dist-packages"

# Pinned, installed with --no-deps so the set is fixed; wheels only (pure Python, plus a few
# manylinux wheels: pyyaml, markupsafe, charset-normalizer, rpds-py).
PIP_PACKAGES = [
    "requests==2.32.3",
    "urllib3==2.2.3",
    "idna==3.10",
    "certifi==2024.8.30",
    "charset-normalizer==3.4.0",
    "flask==3.1.0",
    "werkzeug==3.1.3",
    "jinja2==3.1.4",
    "markupsafe==3.0.2",
    "itsdangerous==2.2.0",
    "click==8.1.7",
    "blinker==1.9.0",
    "pyyaml==6.0.2",
    "six==1.16.0",
    "python-dateutil==2.9.0.post0",
    "pytz==2024.2",
    "tzdata==2024.2",
    "attrs==24.2.0",
    "packaging==24.2",
    "pyparsing==3.2.0",
    "typing-extensions==4.12.2",
    "boto3==1.35.76",
    "botocore==1.35.76",
    "s3transfer==0.10.4",
    "jmespath==1.0.1",
    "gunicorn==23.0.0",
    "redis==5.2.1",
    "celery==5.4.0",
    "kombu==5.4.2",
    "billiard==4.2.1",
    "vine==5.1.0",
    "amqp==5.3.1",
    "click-didyoumean==0.3.1",
    "click-repl==0.3.0",
    "click-plugins==1.1.1",
    "prompt-toolkit==3.0.48",
    "wcwidth==0.2.13",
    "rich==13.9.4",
    "markdown-it-py==3.0.0",
    "mdurl==0.1.2",
    "pygments==2.18.0",
    "httpx==0.28.1",
    "httpcore==1.0.7",
    "h11==0.14.0",
    "anyio==4.7.0",
    "sniffio==1.3.1",
    "tabulate==0.9.0",
    "cachetools==5.5.0",
    "pyasn1==0.6.1",
    "rsa==4.9",
    "oauthlib==3.2.2",
    "requests-oauthlib==2.0.0",
    "python-dotenv==1.0.1",
    "marshmallow==3.23.1",
    "jsonschema==4.23.0",
    "jsonschema-specifications==2024.10.1",
    "referencing==0.35.1",
    "rpds-py==0.22.3",
]

NPM_PACKAGES = {
    "express": "4.21.2",
    "lodash": "4.17.21",
    "webpack": "5.97.1",
    "webpack-cli": "5.1.4",
    "typescript": "5.7.2",
    "eslint": "9.16.0",
    "axios": "1.7.9",
    "moment": "2.30.1",
    "react": "18.3.1",
    "react-dom": "18.3.1",
}

APP_FILES = {
    "app/main.py": (
        "import flask\n\napp = flask.Flask(__name__)\n\n\n@app.get('/')\n"
        "def index():\n    return {'ok': True}\n"
    ),
    "app/server.js": (
        "const express = require('express');\nconst app = express();\n"
        "app.get('/', (req, res) => res.json({ ok: true }));\napp.listen(3000);\n"
    ),
    "app/config.yaml": "listen: 0.0.0.0:8000\nworkers: 2\n",
}
# Removed in the top layer: a whole pip package and a Debian config file.
TOP_WHITEOUTS = [
    f"{SITE}/six.py",
    f"{SITE}/six-1.16.0.dist-info",
    f"{SITE}/__pycache__/six.cpython-311.pyc",
    "etc/motd",
]
IMAGE_CONFIG = {
    "Env": [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "NODE_ENV=production",
    ],
    "WorkingDir": "/app",
    "Cmd": ["python3", "/app/main.py"],
}
SKIPPED_TREES = ("dev/", "proc/", "sys/")


def run(cmd: list[str], log: Path | None = None, **kwargs: object) -> None:
    """Run ``cmd``; with ``log``, its output goes there and is shown only if it fails."""
    print("+", " ".join(cmd[:8]) + (" ..." if len(cmd) > 8 else ""), flush=True)
    if log is None:
        subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]
        return
    with log.open("a") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{log.read_text()[-3000:]}")


# ----------------------------------------------------------------------------- tar writing


class _Counting:
    """File-like wrapper counting the bytes written (the layer's uncompressed size)."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return self.inner.write(data)

    def tell(self) -> int:
        return self.count

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        pass


class LayerWriter:
    """A gzip'd tar layer written like Docker/BuildKit write theirs (see the module doc)."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.tmp = dest.with_suffix(".partial")
        self._raw = self.tmp.open("wb")
        self._gz = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._raw, compresslevel=6, mtime=0
        )
        self._counter = _Counting(self._gz)  # type: ignore[arg-type]
        self.tar = tarfile.TarFile(fileobj=self._counter, mode="w", format=tarfile.PAX_FORMAT)  # type: ignore[arg-type]
        self.entries = 0

    def _add(self, info: tarfile.TarInfo, fileobj: IO[bytes] | None = None) -> None:
        info.uname = info.gname = ""
        info.mtime = int(info.mtime)
        # Go's archive/tar with Format=PAX writes a plain USTAR header when the entry fits
        # (a long name split into prefix/name) and a PAX header only when it has to.
        try:
            info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")
            self.tar.format = tarfile.USTAR_FORMAT
        except ValueError:
            self.tar.format = tarfile.PAX_FORMAT
        self.tar.addfile(info, fileobj)
        self.entries += 1

    def add_path(self, src: Path, arcname: str) -> None:
        """Add one file system entry (not recursing); device nodes and sockets are skipped."""
        info = self.tar.gettarinfo(str(src), arcname)
        if info is None or info.type not in (
            tarfile.REGTYPE,
            tarfile.DIRTYPE,
            tarfile.SYMTYPE,
            tarfile.LNKTYPE,
        ):
            return
        if info.isreg():
            with src.open("rb") as fh:
                self._add(info, fh)
        else:
            self._add(info)

    def add_whiteout(self, path: str, mtime: int) -> None:
        """OCI/AUFS whiteout: an empty regular file `.wh.NAME` beside the removed NAME."""
        parent, _, name = path.rpartition("/")
        info = tarfile.TarInfo(f"{parent}/.wh.{name}" if parent else f".wh.{name}")
        info.mode = 0
        info.mtime = mtime
        self._add(info)

    def add_dir(self, path: str, mtime: int, mode: int = 0o755) -> None:
        info = tarfile.TarInfo(path)
        info.type = tarfile.DIRTYPE
        info.mode = mode
        info.mtime = mtime
        self._add(info)

    def add_bytes(self, path: str, data: bytes, mtime: int, mode: int = 0o644) -> None:
        import io

        info = tarfile.TarInfo(path)
        info.size = len(data)
        info.mode = mode
        info.mtime = mtime
        self._add(info, io.BytesIO(data))

    def close(self) -> dict[str, int]:
        self.tar.close()
        self._gz.close()
        self._raw.close()
        self.tmp.rename(self.dest)
        info = {
            "compressed": self.dest.stat().st_size,
            "uncompressed": self._counter.count,
            "entries": self.entries,
        }
        self.dest.with_suffix(".json").write_text(json.dumps(info))
        return info


def walk(root: Path, rel: str = "") -> Iterator[str]:
    """Every path under ``root`` (relative, "/"-separated), parents first, names sorted."""
    base = root / rel if rel else root
    for entry in sorted(os.scandir(base), key=lambda e: e.name):
        path = f"{rel}/{entry.name}" if rel else entry.name
        yield path
        if entry.is_dir(follow_symlinks=False) and not (path + "/").startswith(SKIPPED_TREES):
            yield from walk(root, path)


def tree_layer(dest: Path, root: Path) -> dict[str, int]:
    """A layer of everything under ``root``."""
    writer = LayerWriter(dest)
    for path in walk(root):
        writer.add_path(root / path, path)
    return writer.close()


# ----------------------------------------------------------------------------- layer 1 + 2


def ensure_root1() -> None:
    if (ROOT1 / "etc" / "os-release").exists():
        return
    if shutil.which("debootstrap") is None:
        sys.exit("debootstrap is not installed (apt-get install debootstrap)")
    shutil.rmtree(ROOT1, ignore_errors=True)
    run(["debootstrap", "--variant=minbase", "bookworm", str(ROOT1)], stdout=subprocess.DEVNULL)


def ensure_root2() -> Path:
    """A copy of ROOT1 with the apt packages installed in a chroot, as a RUN line would."""
    root2 = WORK / "root2"
    done = WORK / "root2.done"
    if done.exists():
        return root2
    shutil.rmtree(root2, ignore_errors=True)
    run(["cp", "-a", str(ROOT1), str(root2)])
    env = [
        "/usr/bin/env",
        "-i",
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        "DEBIAN_FRONTEND=noninteractive",
        "LANG=C.UTF-8",
    ]
    log = WORK / "apt.log"
    log.unlink(missing_ok=True)
    chroot = ["chroot", str(root2), *env]
    run([*chroot, "apt-get", "update", "-q"], log)
    run([*chroot, "apt-get", "install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES], log)
    run([*chroot, "sh", "-c", "apt-get clean && rm -rf /var/lib/apt/lists/*"], log)
    done.touch()
    return root2


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _changed(old: Path, new: Path, a: os.stat_result, b: os.stat_result) -> bool:
    """Whether ``new`` differs from ``old``: type, mode, owner, link target, size, content."""
    if a.st_mode != b.st_mode or a.st_uid != b.st_uid or a.st_gid != b.st_gid:
        return True
    if stat.S_ISDIR(b.st_mode):
        return False  # a directory is emitted when something inside it changed
    if stat.S_ISLNK(b.st_mode):
        return os.readlink(old) != os.readlink(new)
    if a.st_size != b.st_size:
        return True
    if a.st_mtime_ns == b.st_mtime_ns:
        return False
    return _sha256(old) != _sha256(new)


def _parents(path: str) -> Iterator[str]:
    parts = path.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])


def diff_layer(dest: Path, lower: Path, upper: Path) -> dict[str, int]:
    """The OCI diff from ``lower`` to ``upper``: added/changed entries and whiteouts."""
    added: set[str] = set()
    new_dir = ""  # the last directory that is new in upper: all below it is new too
    for path in walk(upper):
        if new_dir and path.startswith(new_dir + "/"):
            added.add(path)
            continue
        b = os.lstat(upper / path)
        try:
            a = os.lstat(lower / path)
        except OSError:  # missing, or a parent is no directory in lower
            a = None
        if a is None or _changed(lower / path, upper / path, a, b):
            added.add(path)
            if stat.S_ISDIR(b.st_mode) and (a is None or not stat.S_ISDIR(a.st_mode)):
                new_dir = path
    removed: set[str] = set()
    gone_dir = ""  # the last directory of lower that upper no longer has as a directory
    for path in walk(lower):
        if gone_dir and path.startswith(gone_dir + "/"):
            continue  # covered by the directory's whiteout or replacement
        lower_is_dir = stat.S_ISDIR(os.lstat(lower / path).st_mode)
        if not os.path.lexists(upper / path):
            removed.add(path)
        elif not (lower_is_dir and stat.S_ISDIR(os.lstat(upper / path).st_mode)):
            if lower_is_dir:
                gone_dir = path  # replaced by a non-directory: emitted in added
            continue
        else:
            continue
        if lower_is_dir:
            gone_dir = path
    paths = added | removed
    with_parents = paths | {p for path in paths for p in _parents(path)}
    writer = LayerWriter(dest)
    mtime = int(upper.stat().st_mtime)
    for path in sorted(with_parents, key=lambda p: p.split("/")):
        if path in removed:
            writer.add_whiteout(path, mtime)
        else:
            writer.add_path(upper / path, path)
    info = writer.close()
    info["whiteouts"] = len(removed)
    dest.with_suffix(".json").write_text(json.dumps(info))
    return info


# ----------------------------------------------------------------------------- layer 3, 4, 5


def pip_stage() -> Path:
    stage = WORK / "pip-stage"
    done = WORK / "pip-stage.done"
    if done.exists():
        return stage
    shutil.rmtree(stage, ignore_errors=True)
    target = stage / SITE
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            "--platform",
            "manylinux2014_x86_64",
            "--platform",
            "manylinux_2_17_x86_64",
            "--target",
            str(target),
            *PIP_PACKAGES,
        ],
        WORK / "pip.log",
    )
    scripts = target / "bin"
    if scripts.is_dir():
        bindir = stage / "usr" / "local" / "bin"
        bindir.mkdir(parents=True, exist_ok=True)
        for script in sorted(scripts.iterdir()):
            if not script.is_file():
                continue
            data = script.read_bytes()
            if data.startswith(b"#!"):
                data = b"#!/usr/bin/python3" + data[data.index(b"\n") :]
            (bindir / script.name).write_bytes(data)
            (bindir / script.name).chmod(0o755)
        shutil.rmtree(scripts)
    done.touch()
    return stage


def npm_stage() -> Path:
    stage = WORK / "npm-stage"
    done = WORK / "npm-stage.done"
    if done.exists():
        return stage
    if shutil.which("npm") is None:
        sys.exit("npm is not installed (apt-get install npm)")
    shutil.rmtree(stage, ignore_errors=True)
    app = stage / "app"
    app.mkdir(parents=True)
    manifest = {
        "name": "demo-app",
        "version": "1.0.0",
        "private": True,
        "dependencies": NPM_PACKAGES,
    }
    (app / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    run(
        ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        WORK / "npm.log",
        cwd=app,
    )
    done.touch()
    return stage


def top_layer(dest: Path) -> dict[str, int]:
    writer = LayerWriter(dest)
    mtime = int(ROOT1.stat().st_mtime)
    lower = [ROOT1, WORK / "root2", WORK / "pip-stage", WORK / "npm-stage"]
    whiteouts = [p for p in TOP_WHITEOUTS if any(os.path.lexists(r / p) for r in lower)]
    paths = {*APP_FILES, *whiteouts}
    dirs = {p for path in paths for p in _parents(path)}
    for path in sorted(paths | dirs, key=lambda p: p.split("/")):
        if path in dirs:
            writer.add_dir(path, mtime)
        elif path in APP_FILES:
            writer.add_bytes(path, APP_FILES[path].encode(), mtime)
        else:
            writer.add_whiteout(path, mtime)
    return writer.close()


# ----------------------------------------------------------------------------- the image


def layer(name: str, make: Callable[[Path], object]) -> tuple[Path, dict[str, int]]:
    dest = WORK / f"{name}.tar.gz"
    if not dest.exists():
        print(f"writing layer {name}", flush=True)
        make(dest)
    return dest, json.loads(dest.with_suffix(".json").read_text())


def build_big_image(rebuild: bool = False) -> Path:
    """Return the OCI layout of the big image, building whatever is not cached yet."""
    if rebuild:
        shutil.rmtree(WORK, ignore_errors=True)
        shutil.rmtree(LAYOUT, ignore_errors=True)
        SUMMARY.unlink(missing_ok=True)
    if (LAYOUT / "index.json").exists() and SUMMARY.exists():
        return LAYOUT
    if os.geteuid() != 0:
        sys.exit("building the big image needs root (debootstrap, chroot)")
    WORK.mkdir(parents=True, exist_ok=True)
    ensure_root1()
    layers = [
        layer("1-minbase", lambda d: tree_layer(d, ROOT1)),
        layer("2-apt", lambda d: diff_layer(d, ROOT1, ensure_root2())),
        layer("3-pip", lambda d: tree_layer(d, pip_stage())),
        layer("4-npm", lambda d: tree_layer(d, npm_stage())),
        layer("5-app", top_layer),
    ]
    digest = write_oci_layout(LAYOUT, [path for path, _ in layers], config=IMAGE_CONFIG, tag="big")
    summary = {
        "manifest": digest,
        "layers": [{"name": path.name, **info} for path, info in layers],
        "compressed": sum(info["compressed"] for _, info in layers),
        "uncompressed": sum(info["uncompressed"] for _, info in layers),
    }
    SUMMARY.write_text(json.dumps(summary, indent=2))
    return LAYOUT


def describe() -> str:
    summary = json.loads(SUMMARY.read_text())
    mb = 1e6
    lines = [f"{LAYOUT} ({summary['manifest'][:19]}...)"]
    for item in summary["layers"]:
        extra = f", {item['whiteouts']} whiteouts" if "whiteouts" in item else ""
        lines.append(
            f"  {item['name']:<18} {item['compressed'] / mb:8.1f} MB gz"
            f" {item['uncompressed'] / mb:8.1f} MB tar {item['entries']:7d} entries{extra}"
        )
    lines.append(
        f"  {len(summary['layers'])} layers: {summary['compressed'] / mb:.1f} MB compressed,"
        f" {summary['uncompressed'] / mb:.1f} MB uncompressed"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="Forget the cache and rebuild.")
    args = parser.parse_args()
    build_big_image(rebuild=args.rebuild)
    print(describe())


if __name__ == "__main__":
    main()
