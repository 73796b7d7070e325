"""Helpers for the vulnerability database tests: mirror directories from the real feeds,
OSV records and zips, and a real HTTP server serving a directory."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import PROJECT, realdata_path

FIXTURES = PROJECT / "tests" / "data" / "feeds"


def link(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.symlink_to(src)
    return dest


def real_mirror(root: Path) -> Path:
    """The real feeds of ../shared/realdata arranged in the mirror layout (symlinks).

    Alpine: secdb v3.3-v3.9 and v3.11 (main, community) from alpinelinux/alpine-secdb,
    v3.10 and v3.20 main.json from the current secdb; osv/PyPI: the pypa advisory-database
    snapshot (.tar.gz); osv/Debian: a real DSA and DLA; Wolfi and Chainguard security.json;
    Debian: the two real tracker fixtures merged into one tracker.json; kev and epss from
    tests/data/feeds.
    """
    feeds = realdata_path("feeds")
    for release in sorted((feeds / "alpine-secdb").glob("v3.*")):
        for repo in ("main", "community"):
            if release.name == "v3.10" and repo == "main":
                continue
            link(release / f"{repo}.json", root / "alpine" / release.name / f"{repo}.json")
    for release in ("v3.10", "v3.20"):
        link(
            feeds / "alpine-secdb-current" / release / "main.json",
            root / "alpine" / release / "main.json",
        )
    for tarball in (feeds / "osv-pypi").glob("*.tar.gz"):
        link(tarball, root / "osv" / "PyPI" / tarball.name)
    osv_dev = feeds / "fixtures" / "osv.dev" / "gcp"
    link(osv_dev / "website/testdata/osv/DLA-3623-1.json", root / "osv/Debian/DLA-3623-1.json")
    link(
        osv_dev / "workers/oss_fuzz_worker/testdata/DSA-3029-1.json",
        root / "osv/Debian/DSA-3029-1.json",
    )
    providers = feeds / "fixtures" / "vunnel" / "tests" / "unit" / "providers"
    link(
        providers / "wolfi/test-fixtures/input/secdb/security.json",
        root / "wolfi/security.json",
    )
    link(
        providers / "chainguard/test-fixtures/input/secdb/security.json",
        root / "chainguard/security.json",
    )
    tracker: dict[str, Any] = {}
    for part in (
        providers / "debian/test-fixtures/input/debian.json",
        feeds / "fixtures/osv.dev/vulnfeeds/test_data/debian/debian_security_tracker_mock.json",
    ):
        tracker.update(json.loads(part.read_text()))
    (root / "debian").mkdir(parents=True, exist_ok=True)
    (root / "debian" / "tracker.json").write_text(json.dumps(tracker))
    link(FIXTURES / "kev.json", root / "kev.json")
    link(FIXTURES / "epss.csv", root / "epss.csv")
    return root


def copy_tree(src: Path, dest: Path) -> Path:
    """A real copy (symlinks resolved), for serving over HTTP or tampering with."""
    shutil.copytree(src, dest, symlinks=False)
    return dest


def osv_record(
    vuln_id: str,
    package: str,
    *,
    ecosystem: str = "PyPI",
    fixed: str = "2.0.0",
    introduced: str = "0",
    aliases: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": vuln_id,
        "modified": "2024-05-01T00:00:00Z",
        "published": "2024-04-01T00:00:00Z",
        "aliases": aliases or [],
        "summary": f"{package}: a vulnerability",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": package},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]}
                ],
            }
        ],
    }
    record.update(extra)
    return record


def write_zip(path: Path, members: dict[str, bytes | dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            data = content if isinstance(content, bytes) else json.dumps(content).encode()
            archive.writestr(name, data)
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        super().do_GET()


@contextmanager
def serve(directory: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``directory`` over HTTP on 127.0.0.1; yield (base URL, request paths)."""
    handler = type("Handler", (_QuietHandler,), {"requests": []})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
