"""Where feeds come from: the mirror layout, the public URLs, and fetching over HTTP.

Every update reads a directory in the *mirror layout* (``docs/db.md``)::

    osv/<Ecosystem>/all.zip            or osv/<Ecosystem>/**/*.json|*.yaml|*.tar.gz
    alpine/v<X.Y>/{main,community}.json
    wolfi/security.json
    chainguard/security.json
    debian/tracker.json                (or tracker.json.gz)
    kev.json
    epss.csv                           (or epss.csv.gz)

``--from DIR`` reads such a directory as it is. ``--mirror URL`` downloads the same layout
from a web server: the files listed in ``<URL>/index.txt`` (``sha256sum`` output or bare
paths; hashes, when given, are verified), or, without an index, every known path probed in
turn (404 = absent). The default downloads the public feeds into that layout first.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import httpx

from baseguard.vulndb.feeds.base import Source
from baseguard.vulndb.store import VulnDbError

#: Progress of one download: (label, bytes so far, total bytes or None).
DownloadProgress = Callable[[str, int, int | None], None]

OSV_URL = "https://osv-vulnerabilities.storage.googleapis.com/{ecosystem}/all.zip"
ALPINE_URL = "https://secdb.alpinelinux.org/{release}/{repo}.json"
WOLFI_URL = "https://packages.wolfi.dev/os/security.json"
CHAINGUARD_URL = "https://packages.cgr.dev/chainguard/security.json"
DEBIAN_URL = "https://security-tracker.debian.org/tracker/data/json"
KEV_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
EPSS_URL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"

#: OSV ecosystems fetched by default. Alpine, Debian, Wolfi and Chainguard come from their
#: own feeds (secdb, the Debian tracker), which OSV's dumps of them are converted from.
DEFAULT_OSV_ECOSYSTEMS = (
    "PyPI",
    "npm",
    "Go",
    "Maven",
    "crates.io",
    "RubyGems",
    "NuGet",
    "Packagist",
    "Ubuntu",
)
#: OSV ecosystems probed on a mirror that has no index.txt.
KNOWN_OSV_ECOSYSTEMS = (
    *DEFAULT_OSV_ECOSYSTEMS,
    "Alpine",
    "Debian",
    "Wolfi",
    "Chainguard",
    "Hex",
    "Pub",
    "SwiftURL",
    "Hackage",
    "CRAN",
    "GitHub Actions",
    "Linux",
    "Rocky Linux",
    "AlmaLinux",
    "openSUSE",
    "SUSE",
    "Red Hat",
    "Bitnami",
    "MinimOS",
)
ALPINE_REPOS = ("main", "community")
#: Alpine releases fetched by default (a missing one is skipped) and probed on mirrors.
DEFAULT_ALPINE_RELEASES = (*(f"v3.{n}" for n in range(2, 25)), "edge")
KNOWN_ALPINE_RELEASES = (*(f"v3.{n}" for n in range(0, 31)), "edge")

MAX_DOWNLOAD_BYTES = 16 * 1024**3
INDEX_NAME = "index.txt"

_RELEASE = r"(?:v\d+\.\d+|edge)"
_LAYOUT = re.compile(
    r"^(?:osv/[^/]+/(?:[^/]+/)*[^/]+\.(?:zip|json|ya?ml|tar\.gz|tgz|tar)"
    rf"|alpine/{_RELEASE}/[A-Za-z0-9_-]+\.(?:json|ya?ml)"
    r"|wolfi/security\.json|chainguard/security\.json"
    r"|debian/tracker\.json(?:\.gz)?"
    r"|kev\.json|epss\.csv(?:\.gz)?)$"
)


@dataclass(frozen=True)
class Remote:
    """One file to download into the layout."""

    path: str
    url: str
    #: A 404 skips an optional file (an Alpine release that does not exist) instead of
    #: failing the update.
    optional: bool = False
    sha256: str | None = None


def feed_of(relpath: str) -> str:
    """The feed a layout path belongs to (``osv/PyPI/all.zip`` -> ``osv``)."""
    first = relpath.split("/", 1)[0]
    if first in ("kev.json",):
        return "kev"
    if first.startswith("epss.csv"):
        return "epss"
    return first


def is_layout_path(relpath: str) -> bool:
    """True for paths the mirror layout knows (and that cannot escape the mirror root)."""
    parts = PurePosixPath(relpath).parts
    if relpath.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return False
    if any(p.startswith(".") for p in parts):
        return False
    return bool(_LAYOUT.match(relpath))


def default_remotes(only: set[str] | None = None) -> list[Remote]:
    """The public feeds, placed where the layout wants them."""
    remotes = [
        Remote(f"osv/{eco}/all.zip", OSV_URL.format(ecosystem=quote(eco)))
        for eco in DEFAULT_OSV_ECOSYSTEMS
    ]
    remotes += [
        Remote(f"alpine/{rel}/{repo}.json", ALPINE_URL.format(release=rel, repo=repo), True)
        for rel in DEFAULT_ALPINE_RELEASES
        for repo in ALPINE_REPOS
    ]
    remotes += [
        Remote("wolfi/security.json", WOLFI_URL),
        Remote("chainguard/security.json", CHAINGUARD_URL),
        Remote("debian/tracker.json", DEBIAN_URL),
        Remote("kev.json", KEV_URL),
        Remote("epss.csv.gz", EPSS_URL),
    ]
    return [r for r in remotes if only is None or feed_of(r.path) in only]


def probe_paths() -> list[str]:
    """Every path looked for on a mirror without an index."""
    paths = [f"osv/{eco}/all.zip" for eco in KNOWN_OSV_ECOSYSTEMS]
    paths += [f"alpine/{rel}/{repo}.json" for rel in KNOWN_ALPINE_RELEASES for repo in ALPINE_REPOS]
    paths += [
        "wolfi/security.json",
        "chainguard/security.json",
        "debian/tracker.json",
        "debian/tracker.json.gz",
        "kev.json",
        "epss.csv.gz",
        "epss.csv",
    ]
    return paths


def mirror_url(base: str, relpath: str) -> str:
    return base.rstrip("/") + "/" + "/".join(quote(p) for p in relpath.split("/"))


def parse_index(text: str, where: str) -> list[tuple[str, str | None]]:
    """``index.txt``: one layout path per line, optionally preceded by its sha256 the way
    ``sha256sum`` prints it (``<hex>  path`` or ``<hex> *path``). ``#`` starts a comment.
    Paths outside the layout are ignored; paths that try to escape are an error."""
    entries: list[tuple[str, str | None]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        digest: str | None = None
        match = re.match(r"^([0-9a-fA-F]{64})\s+\*?(.+)$", line)
        if match:
            digest, line = match.group(1).lower(), match.group(2).strip()
        path = line[2:] if line.startswith("./") else line
        parts = PurePosixPath(path).parts
        if path.startswith("/") or ".." in parts:
            raise VulnDbError(f"{where} line {number}: {path!r} points outside the mirror")
        if is_layout_path(path):
            entries.append((path, digest))
    return entries


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_sha256(path: Path) -> str:
    """A file's sha256; for a directory, the sha256 of its ``sha256sum``-style listing."""
    if path.is_file():
        return file_sha256(path)
    lines = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path).as_posix()
        if not any(part.startswith(".") for part in rel.split("/")):
            lines.append(f"{file_sha256(file)}  {rel}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def discover(root: Path, locations: Mapping[str, str] | None = None) -> list[Source]:
    """The sources a directory in the mirror layout holds, sorted by name.

    ``locations`` maps layout paths to where they were downloaded from (for provenance);
    without it the local path is recorded.
    """
    if not root.is_dir():
        raise VulnDbError(f"{root} is not a directory", hint="--from takes a mirror directory")

    def where(relpath: str, path: Path) -> str:
        if locations is not None:
            if relpath in locations:
                return locations[relpath]
            prefix = relpath.rstrip("/") + "/"
            for key, url in locations.items():
                if key.startswith(prefix):
                    return url[: len(url) - len(key) + len(prefix)]
        return str(path.absolute())

    sources: list[Source] = []
    osv = root / "osv"
    if osv.is_dir():
        for eco_dir in sorted(osv.iterdir()):
            if eco_dir.is_dir() and not eco_dir.name.startswith("."):
                rel = f"osv/{eco_dir.name}"
                sources.append(Source("osv", rel, eco_dir, where(rel + "/", eco_dir)))
    alpine = root / "alpine"
    if alpine.is_dir():
        for rel_dir in sorted(alpine.iterdir()):
            if not (rel_dir.is_dir() and re.fullmatch(_RELEASE, rel_dir.name)):
                continue
            stems: dict[str, Path] = {}
            for file in sorted(rel_dir.iterdir()):
                stem, dot, ext = file.name.rpartition(".")
                if not dot or not file.is_file() or ext not in ("json", "yaml", "yml"):
                    continue
                if stem not in stems or ext == "json":
                    stems[stem] = file
            for stem, file in sorted(stems.items()):
                rel = f"alpine/{rel_dir.name}/{file.name}"
                sources.append(
                    Source("alpine", f"alpine/{rel_dir.name}/{stem}", file, where(rel, file))
                )
    for feed in ("wolfi", "chainguard"):
        file = root / feed / "security.json"
        if file.is_file():
            sources.append(Source(feed, feed, file, where(f"{feed}/security.json", file)))
    for name in ("tracker.json", "tracker.json.gz"):
        file = root / "debian" / name
        if file.is_file():
            sources.append(Source("debian", "debian", file, where(f"debian/{name}", file)))
            break
    file = root / "kev.json"
    if file.is_file():
        sources.append(Source("kev", "kev", file, where("kev.json", file)))
    for name in ("epss.csv", "epss.csv.gz"):
        file = root / name
        if file.is_file():
            sources.append(Source("epss", "epss", file, where(name, file)))
            break
    return sorted(sources, key=lambda s: s.name)


# -- downloading ---------------------------------------------------------------------------


@dataclass
class Fetched:
    """What a download round produced: layout paths and their URLs and fetch times."""

    locations: dict[str, str]
    fetched_at: dict[str, datetime]


def make_client() -> httpx.Client:
    """The HTTP client feeds are fetched with: redirects followed, generous read timeout."""
    from baseguard import __version__

    return httpx.Client(
        follow_redirects=True,
        timeout=httpx.Timeout(30.0, read=300.0),
        headers={"User-Agent": f"baseguard/{__version__} (vulnerability database update)"},
    )


def download(
    client: httpx.Client,
    url: str,
    target: Path,
    *,
    sha256: str | None = None,
    optional: bool = False,
    progress: DownloadProgress | None = None,
    label: str = "",
    max_bytes: int = MAX_DOWNLOAD_BYTES,
) -> bool:
    """Stream ``url`` into ``target`` (written aside, renamed when complete).

    Returns False for a 404 when ``optional``; raises :class:`VulnDbError` otherwise.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with client.stream("GET", url) as response:
            if response.status_code == 404 and optional:
                return False
            if response.status_code >= 400:
                raise VulnDbError(
                    f"cannot download {url}: HTTP {response.status_code}",
                    hint="check the URL, or use --mirror URL / --from DIR on air-gapped hosts",
                )
            length = response.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            with partial.open("wb") as out:
                for chunk in response.iter_raw(1 << 20):
                    done += len(chunk)
                    if done > max_bytes:
                        raise VulnDbError(
                            f"{url} is larger than {max_bytes} bytes; refusing it",
                            hint="check that the mirror serves the right file",
                        )
                    digest.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(label or url, done, total)
            if total is not None and done != total:
                raise VulnDbError(f"download of {url} stopped at {done} of {total} bytes")
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise VulnDbError(
            f"cannot download {url}: {exc or type(exc).__name__}",
            hint="check the network, or use --mirror URL / --from DIR on air-gapped hosts",
        ) from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if sha256 is not None and digest.hexdigest() != sha256:
        partial.unlink(missing_ok=True)
        raise VulnDbError(
            f"{url} does not match its sha256 in the mirror index "
            f"(got {digest.hexdigest()}, expected {sha256})",
            hint="the mirror is damaged or was changed after its index was written",
        )
    os.replace(partial, target)
    return True


def fetch(
    remotes: Iterable[Remote],
    dest: Path,
    *,
    client: httpx.Client | None = None,
    progress: DownloadProgress | None = None,
) -> Fetched:
    """Download ``remotes`` into ``dest`` (in the layout); skip optional 404s."""
    owned = client is None
    http = client if client is not None else make_client()
    fetched = Fetched({}, {})
    try:
        for remote in remotes:
            if not is_layout_path(remote.path):
                raise VulnDbError(f"{remote.path!r} is not a path of the mirror layout")
            if download(
                http,
                remote.url,
                dest / remote.path,
                sha256=remote.sha256,
                optional=remote.optional,
                progress=progress,
                label=remote.path,
            ):
                fetched.locations[remote.path] = remote.url
                fetched.fetched_at[remote.path] = datetime.now(UTC)
    finally:
        if owned:
            http.close()
    return fetched


def mirror_remotes(
    base: str, *, client: httpx.Client, only: set[str] | None = None
) -> list[Remote]:
    """The files to fetch from a mirror: its ``index.txt``, or every known path (probed)."""
    index_url = mirror_url(base, INDEX_NAME)
    try:
        response = client.get(index_url)
    except httpx.HTTPError as exc:
        raise VulnDbError(
            f"cannot reach the mirror {base}: {exc or type(exc).__name__}",
            hint="check the URL and that the mirror server is running",
        ) from exc
    if response.status_code == 200:
        entries = parse_index(response.text, index_url)
        remotes = [Remote(path, mirror_url(base, path), sha256=digest) for path, digest in entries]
    elif response.status_code == 404:
        remotes = [Remote(p, mirror_url(base, p), optional=True) for p in probe_paths()]
    else:
        raise VulnDbError(f"cannot read {index_url}: HTTP {response.status_code}")
    return [r for r in remotes if only is None or feed_of(r.path) in only]


def write_index(root: Path) -> Path:
    """Write ``index.txt`` (sha256sum format) for a mirror directory; return its path."""
    if not root.exists():
        raise VulnDbError(f"{root} does not exist", hint="give the mirror directory (docs/db.md)")
    if not root.is_dir():
        raise VulnDbError(f"{root} is not a directory", hint="give the mirror directory")
    lines = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        if is_layout_path(rel):
            lines.append(f"{file_sha256(file)}  {rel}\n")
    if not lines:
        raise VulnDbError(f"{root} holds no files of the mirror layout", hint="see docs/db.md")
    index = root / INDEX_NAME
    partial = index.with_name(INDEX_NAME + ".part")
    partial.write_text("".join(lines), encoding="utf-8")
    os.replace(partial, index)
    return index
