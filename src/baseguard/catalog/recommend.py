"""Recommendations: for each base image the catalog does not approve, the best catalog entry
to move to, with the measured difference.

Rules (docs/recommend.md says the same for users):

* **Which images.** Every image a Dockerfile builds on (``FROM``, ``COPY --from``,
  ``RUN --mount=from``: roles ``base`` and ``build``) whose catalog verdict is not
  ``approved``: not in the catalog, retired, past EOL, proposed, deprecated, a dev variant in
  production, or covered by an exception (an exception waives the rule for a while; the way
  out is still shown). Images that compose files and Kubernetes run directly are
  applications, not bases: ``assess`` judges them.
* **Runtime.** The current image's runtime is detected from what it contains when it can be
  measured (OS packages such as ``python3``/``nodejs``/``openjdk-21-jre``/``go``, the image's
  ``PYTHON_VERSION``-style environment, site-packages paths), else from its name and tag
  (``python:3.12-slim``, ``node:22-alpine``, ``eclipse-temurin:21``, ``golang:1.22``). Its
  libc comes from the distro: Alpine is musl; Debian, Ubuntu, RHEL and the other glibc
  distributions (Wolfi and Chainguard included) are glibc.
* **Candidates.** A catalog entry qualifies when it is approved or proposed (never
  deprecated, retired or past its EOL), states a runtime, and that runtime is the same
  language with the same *major version line* (python and go: ``3.12``/``1.22``; node and
  java: ``22``/``21``). An image with no language runtime (``alpine``, ``debian``) may move
  to the same distribution at the same or a newer release, or to a ``static`` image (libc,
  CA certificates and tzdata only).
* **Variant.** A final stage gets the entry's runtime image; a build stage gets its dev
  variant (shell, package manager), or its runtime image when it has none.
* **Order.** Approved before proposed; then the entries the current one's catalog entry
  points to (``replaced_by``, followed); then the same libc before a libc switch; then the
  same runtime name before ``static``; then the newer version; then catalog order.
* **Measured.** The current image and the chosen candidates are opened (image store first,
  then the registry unless offline), analysed (cached by digest) and scanned with the same
  database and VEX. Every delta is a measured value; a candidate that cannot be opened is
  "not measured", with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from baseguard import __version__
from baseguard.analysis.analyze import Analysis
from baseguard.catalog.compare import Measurement, Measurer, user_label
from baseguard.catalog.model import Catalog, CatalogEntry, Variant, is_glob
from baseguard.catalog.verdicts import Judgement, UseVerdict, Verdict, judge, worst
from baseguard.errors import BaseguardError
from baseguard.inventory.model import Inventory
from baseguard.refs import Reference, parse_reference

#: Language runtimes baseguard recognises, by canonical name.
LANGUAGE_RUNTIMES = ("python", "node", "java", "go")
#: Runtime spellings a catalog or an image name may use, to their canonical name.
RUNTIME_ALIASES = {
    "python": "python",
    "python3": "python",
    "cpython": "python",
    "node": "node",
    "nodejs": "node",
    "java": "java",
    "jdk": "java",
    "jre": "java",
    "openjdk": "java",
    "temurin": "java",
    "eclipse-temurin": "java",
    "amazoncorretto": "java",
    "corretto": "java",
    "ibm-semeru-runtimes": "java",
    "sapmachine": "java",
    "jdk-lts": "java",
    "jre-lts": "java",
    "go": "go",
    "golang": "go",
}
#: Runtimes whose compatibility line is major.minor (others: major).
MINOR_LINE = frozenset({"python", "go"})
#: A ``static`` catalog runtime: libc, CA certificates and tzdata, nothing else.
STATIC = "static"
MUSL_DISTROS = frozenset({"alpine", "postmarketos"})
GLIBC_DISTROS = frozenset(
    {
        "debian",
        "ubuntu",
        "rhel",
        "centos",
        "fedora",
        "rocky",
        "almalinux",
        "amzn",
        "ol",
        "sles",
        "opensuse-leap",
        "opensuse-tumbleweed",
        "wolfi",
        "chainguard",
        "photon",
        "mariner",
        "azurelinux",
        "arch",
    }
)
#: Distribution image names (last repository component) to their os-release id.
DISTRO_IMAGES = {
    "alpine": "alpine",
    "debian": "debian",
    "ubuntu": "ubuntu",
    "fedora": "fedora",
    "centos": "centos",
    "rockylinux": "rocky",
    "almalinux": "almalinux",
    "amazonlinux": "amzn",
    "oraclelinux": "ol",
    "ubi8": "rhel",
    "ubi9": "rhel",
    "ubi": "rhel",
    "ubi-minimal": "rhel",
    "wolfi-base": "wolfi",
}
#: Codenames that tags carry (``node:22-bookworm``), to (distro, version).
CODENAMES = {
    "trixie": ("debian", "13"),
    "bookworm": ("debian", "12"),
    "bullseye": ("debian", "11"),
    "buster": ("debian", "10"),
    "stretch": ("debian", "9"),
    "noble": ("ubuntu", "24.04"),
    "jammy": ("ubuntu", "22.04"),
    "focal": ("ubuntu", "20.04"),
    "bionic": ("ubuntu", "18.04"),
}
#: Environment variables official images set to their runtime version.
RUNTIME_ENV = {
    "PYTHON_VERSION": "python",
    "NODE_VERSION": "node",
    "JAVA_VERSION": "java",
    "GOLANG_VERSION": "go",
}
#: OS package names that carry a language runtime: (pattern, runtime, version group or None).
_PACKAGE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"python3?(?:-base)?"), "python"),
    (re.compile(r"python-?(?P<v>3\.[0-9]+)(?:-base|-minimal)?"), "python"),
    (re.compile(r"libpython(?P<v>3\.[0-9]+)(?:-minimal|-stdlib)?"), "python"),
    (re.compile(r"nodejs(?:-current|-lts)?"), "node"),
    (re.compile(r"nodejs-?(?P<v>[0-9]+)"), "node"),
    (re.compile(r"openjdk-?(?P<v>[0-9]+)(?:-jre|-jdk)?(?:-headless|-default-jvm)?"), "java"),
    (re.compile(r"(?:temurin|corretto)-?(?P<v>[0-9]+)(?:-jre|-jdk)?"), "java"),
    (re.compile(r"java-(?P<v>[0-9]+|1\.8\.0)-openjdk(?:-headless|-devel)?"), "java"),
    (re.compile(r"go|golang"), "go"),
    (re.compile(r"go-?(?P<v>1\.[0-9]+)"), "go"),
    (re.compile(r"golang-(?P<v>1\.[0-9]+)-go"), "go"),
)
_SITE_PACKAGES = re.compile(r"/python(3\.[0-9]+)/(?:site|dist)-packages/")
_VERSION_PREFIX = re.compile(r"v?([0-9]+(?:\.[0-9]+)*)")
_ALPINE_TAG = re.compile(r"alpine([0-9]+\.[0-9]+)?")


def canonical_runtime(name: str | None) -> str | None:
    """``golang`` → ``go``, ``nodejs`` → ``node``, ``static`` → ``static``; lower-cased."""
    if name is None:
        return None
    low = name.lower()
    return RUNTIME_ALIASES.get(low, low)


def version_line(runtime: str | None, version: str | None) -> str | None:
    """The part of a version that must stay the same: ``3.12`` for python 3.12.4, ``22`` for
    node 22.9.0, ``21`` for java 21.0.4 (``8`` for 1.8.0), ``1.22`` for go 1.22.5."""
    if not version:
        return None
    m = _VERSION_PREFIX.match(version.strip())
    if m is None:
        return None
    parts = m.group(1).split(".")
    if runtime == "java" and parts[0] == "1" and len(parts) > 1:
        parts = parts[1:]
    if runtime in MINOR_LINE:
        return ".".join(parts[:2]) if len(parts) >= 2 else None
    return parts[0]


def _version_key(version: str | None) -> tuple[int, ...]:
    m = _VERSION_PREFIX.match(version or "")
    return tuple(int(p) for p in m.group(1).split(".")) if m else ()


def libc_of(distro: str | None) -> str | None:
    if distro in MUSL_DISTROS:
        return "musl"
    if distro in GLIBC_DISTROS:
        return "glibc"
    return None


# --------------------------------------------------------------------------- runtime detection


@dataclass(frozen=True)
class DetectedRuntime:
    """What the current image runs: a language runtime (or none), its libc and distro."""

    name: str | None = None
    version: str | None = None
    libc: str | None = None
    distro: str | None = None
    distro_version: str | None = None
    evidence: tuple[str, ...] = ()

    @property
    def line(self) -> str | None:
        return version_line(self.name, self.version)

    @property
    def label(self) -> str:
        """``python 3.12 (glibc, debian 12)``, ``no language runtime (musl, alpine 3.10)``."""
        what = (
            " ".join(p for p in (self.name, self.line or self.version) if p)
            if self.name
            else "no language runtime"
        )
        where = " ".join(p for p in (self.distro, self.distro_version) if p)
        extra = ", ".join(p for p in (self.libc, where) if p)
        return f"{what} ({extra})" if extra else what

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "line": self.line,
            "libc": self.libc,
            "distro": self.distro,
            "distroVersion": self.distro_version,
            "evidence": list(self.evidence),
        }


def runtime_from_reference(ref: Reference) -> DetectedRuntime:
    """What the name and tag say: ``python:3.12-alpine`` → python 3.12, musl, alpine."""
    last = ref.repository.rsplit("/", 1)[-1].lower()
    tag = (ref.tag or "").lower()
    name = canonical_runtime(last) if canonical_runtime(last) in LANGUAGE_RUNTIMES else None
    version = None
    evidence = []
    distro = DISTRO_IMAGES.get(last)
    distro_version = None
    m = _VERSION_PREFIX.match(tag)
    if name and m:
        version = m.group(1)
    if name:
        evidence.append(f"image name {ref.familiar}")
    if distro:
        distro_version = m.group(1) if m else None
        evidence.append(f"distribution image {ref.familiar}")
    for part in re.split(r"[-_]", tag):
        am = _ALPINE_TAG.fullmatch(part)
        if am:
            distro, distro_version = "alpine", am.group(1) or distro_version
            evidence.append(f"tag {ref.tag}")
        elif part in CODENAMES:
            distro, distro_version = CODENAMES[part]
            evidence.append(f"tag {ref.tag}")
    return DetectedRuntime(
        name=name,
        version=version,
        libc=libc_of(distro),
        distro=distro,
        distro_version=distro_version,
        evidence=tuple(dict.fromkeys(evidence)),
    )


def runtime_from_analysis(analysis: Analysis) -> DetectedRuntime:
    """What the image contains: OS packages, runtime environment variables, site-packages."""
    found: dict[str, tuple[str | None, str]] = {}  # runtime -> (version, evidence)

    def note(runtime: str, version: str | None, evidence: str) -> None:
        old = found.get(runtime)
        if old is None or (old[0] is None and version):
            found[runtime] = (version, evidence)

    for pkg in analysis.packages:
        if pkg.type not in ("apk", "deb", "rpm"):
            continue
        for pattern, runtime in _PACKAGE_RULES:
            pm = pattern.fullmatch(pkg.name)
            if pm is None:
                continue
            version = pm.groupdict().get("v") or pkg.version
            note(runtime, version, f"{pkg.type} package {pkg.name} {pkg.version}")
            break
    facts = analysis.facts
    if facts is not None:
        for key, runtime in RUNTIME_ENV.items():
            value = facts.env.get(key)
            if value:
                text = value.removeprefix("jdk-").removeprefix("jdk")
                note(runtime, text, f"environment {key}={value}")
    for pkg in analysis.packages:
        for loc in pkg.locations:
            sm = _SITE_PACKAGES.search(loc)
            if sm:
                note("python", sm.group(1), f"site-packages of python {sm.group(1)}")
                break
    distro = analysis.distro.id
    libc = libc_of(distro)
    evidence = []
    if libc is None:
        names = {p.name for p in analysis.packages}
        if "musl" in names:
            libc = "musl"
            evidence.append("package musl")
        elif names & {"libc6", "glibc"}:
            libc = "glibc"
            evidence.append("package glibc")
    elif distro:
        evidence.append(f"distro {analysis.distro.display}")
    name = version = None
    for runtime in LANGUAGE_RUNTIMES:  # a fixed preference when an image holds several
        if runtime in found:
            name, (version, why) = runtime, found[runtime]
            evidence.insert(0, why)
            break
    return DetectedRuntime(
        name=name,
        version=version,
        libc=libc,
        distro=distro,
        distro_version=analysis.distro.version_id,
        evidence=tuple(evidence),
    )


def detect_runtime(reference: str, analysis: Analysis | None) -> DetectedRuntime:
    """The runtime of an image: what it contains when measured, its name and tag otherwise
    (and for whatever the contents do not tell)."""
    try:
        by_name = runtime_from_reference(parse_reference(reference))
    except BaseguardError:
        by_name = DetectedRuntime()
    if analysis is None:
        return by_name
    inside = runtime_from_analysis(analysis)
    name, version = inside.name, inside.version
    evidence = list(inside.evidence)
    if name is None and by_name.name is not None:
        name, version = by_name.name, by_name.version
        evidence += [f"{e} (not confirmed by the contents)" for e in by_name.evidence]
    return DetectedRuntime(
        name=name,
        version=version,
        libc=inside.libc or by_name.libc,
        distro=inside.distro or by_name.distro,
        distro_version=inside.distro_version or by_name.distro_version,
        evidence=tuple(evidence),
    )


# --------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class Candidate:
    """A catalog entry and variant that could replace the current image, and why."""

    entry: CatalogEntry
    variant: Variant | None  # None: the entry's main (runtime) image
    reference: str  # what to measure and write: repo:tag, or repo@digest
    digests: tuple[str, ...]  # the digests the catalog pins for this image
    why: tuple[str, ...]
    caveats: tuple[str, ...]
    rank: tuple[Any, ...]

    @property
    def variant_name(self) -> str:
        return self.variant.name if self.variant else "runtime"

    @property
    def dev(self) -> bool:
        return self.variant is not None and self.variant.dev


def slot_for(entry: CatalogEntry, want: str) -> tuple[Variant | None, str | None, str | None]:
    """The image of ``entry`` a stage should use: (variant or None for the main image,
    ``"dev"``/``"main"``/``"variant"`` or None when there is none, why there is none)."""
    main = bool(entry.tags or entry.digests)
    if want == "dev":
        dev = next((v for v in entry.variants if v.dev), None)
        if dev is not None:
            return dev, "dev", None
        if main:
            return None, "main", None
        plain = next((v for v in entry.variants if not v.dev), None)
        if plain is not None:
            return plain, "variant", None
        return None, None, f"entry {entry.id} names no image for a build stage"
    if main:
        return None, "main", None
    plain = next((v for v in entry.variants if not v.dev), None)
    if plain is not None:
        return plain, "variant", None
    return None, None, f"entry {entry.id} has only dev variants (build stages only)"


def concrete_reference(
    entry: CatalogEntry, variant: Variant | None
) -> tuple[str | None, tuple[str, ...]]:
    """One nameable image of the slot (its first non-glob tag, or its only digest), and the
    digests the catalog pins for it."""
    tags = variant.tags if variant else entry.tags
    digests = variant.digests if variant else entry.digests
    tag = next((t for t in tags if not is_glob(t)), None)
    if tag is not None:
        return f"{entry.repository}:{tag}", digests
    if len(digests) == 1:
        return f"{entry.repository}@{digests[0]}", digests
    return None, digests


def replacement_chain(catalog: Catalog, entry: CatalogEntry | None) -> list[str]:
    """The entry ids ``replaced_by`` leads to, nearest first (cycles stop the walk)."""
    out: list[str] = []
    current = entry
    while current is not None and current.replaced_by and current.replaced_by not in out:
        out.append(current.replaced_by)
        current = catalog.get(current.replaced_by)
    return out


def candidates(
    catalog: Catalog,
    runtime: DetectedRuntime,
    want: str,
    today: date,
    *,
    current: tuple[CatalogEntry, Variant | None] | None = None,
    prefer: Sequence[str] = (),
) -> tuple[list[Candidate], list[str]]:
    """Every entry that qualifies, best first; and why each other entry does not.

    ``prefer`` lists entry ids to put first, in that order, when they qualify.
    """
    out: list[Candidate] = []
    skipped: list[str] = []
    guidance = replacement_chain(catalog, current[0] if current else None)
    if current is not None:
        guidance.insert(0, current[0].id)
    for order, entry in enumerate(catalog.entries):
        cand, reason = _evaluate(entry, runtime, want, today, order, guidance, current)
        if cand is not None:
            if entry.id in prefer:
                cand = replace(
                    cand,
                    rank=(prefer.index(entry.id), *cand.rank),
                    why=(*cand.why, "preferred (--prefer)"),
                )
            else:
                cand = replace(cand, rank=(len(prefer), *cand.rank))
            out.append(cand)
        elif reason:
            skipped.append(reason)
    out.sort(key=lambda c: c.rank)
    return out, skipped


def _evaluate(
    entry: CatalogEntry,
    runtime: DetectedRuntime,
    want: str,
    today: date,
    order: int,
    guidance: list[str],
    current: tuple[CatalogEntry, Variant | None] | None,
) -> tuple[Candidate | None, str | None]:
    if entry.state not in ("approved", "proposed"):
        return None, f"{entry.id}: {entry.state}"
    if entry.past_eol(today):
        return None, f"{entry.id}: past its end of life ({entry.eol})"
    if entry.runtime is None:
        return None, f"{entry.id}: states no runtime"
    cand_name = canonical_runtime(entry.runtime.name)
    cand_version = entry.runtime.version
    why: list[str] = []
    caveats: list[str] = []
    exact = 0
    if runtime.name is not None:
        if cand_name != runtime.name:
            return None, f"{entry.id}: runtime {entry.runtime.name}, not {runtime.name}"
        want_line = runtime.line
        have_line = version_line(cand_name, cand_version)
        if want_line is None:
            caveats.append(
                f"the current {runtime.name} version is unknown: check that "
                f"{cand_version or 'the entry'} suits the application"
            )
        elif have_line is None:
            return None, f"{entry.id}: states no {runtime.name} version to compare with {want_line}"
        elif have_line != want_line:
            return None, f"{entry.id}: {runtime.name} {have_line}, not {want_line}"
        why.append(f"same runtime: {runtime.name} {have_line or cand_version or ''}".rstrip())
    else:
        if cand_name in LANGUAGE_RUNTIMES:
            return None, f"{entry.id}: a {cand_name} runtime; the current image has none"
        if cand_name == STATIC:
            exact = 1
            why.append("static: libc only, for self-contained binaries")
        elif runtime.distro is not None and cand_name == runtime.distro:
            if _version_key(cand_version) < _version_key(runtime.distro_version):
                return None, (
                    f"{entry.id}: {cand_name} {cand_version} is older than {runtime.distro_version}"
                )
            why.append(f"same distribution: {cand_name} {cand_version or ''}".rstrip())
            if (
                cand_version
                and runtime.distro_version
                and (_version_key(cand_version)[:2] != _version_key(runtime.distro_version)[:2])
            ):
                caveats.append(
                    f"release change: {cand_name} {runtime.distro_version} → {cand_version}"
                )
        else:
            return None, (
                f"{entry.id}: runtime {entry.runtime.name}, not "
                f"{runtime.distro or 'the current distribution'} or static"
            )
    variant, owner, why_not = slot_for(entry, want)
    if owner is None:
        return None, f"{entry.id}: {why_not}"
    if current is not None and current[0].id == entry.id and current[1] == variant:
        return None, None  # the current image itself
    reference, digests = concrete_reference(entry, variant)
    if reference is None:
        return None, (
            f"{entry.id}: allows only tag patterns and pins "
            f"{'no digest' if not digests else 'several digests'}; no single image to name"
        )
    if want == "dev" and owner != "dev":
        caveats.append(f"{entry.id} has no dev variant: its runtime image is proposed")
    libc_rank = 1
    if entry.runtime.libc and runtime.libc:
        if entry.runtime.libc == runtime.libc:
            libc_rank = 0
        else:
            libc_rank = 2
            caveats.append(
                f"libc switch {runtime.libc} → {entry.runtime.libc}: binaries and native "
                f"modules built for {runtime.libc} must be rebuilt"
            )
    if entry.state == "proposed":
        caveats.append(f"{entry.id} is only proposed: approve it before relying on it")
    else:
        why.append("approved")
    in_guidance = entry.id in guidance
    if in_guidance:
        why.append(
            "the current image's own entry"
            if current is not None and entry.id == current[0].id
            else f"the catalog names it as the replacement ({' → '.join(guidance)})"
        )
    rank = (
        0 if entry.state == "approved" else 1,
        guidance.index(entry.id) if in_guidance else len(guidance),
        libc_rank,
        exact,
        tuple(-p for p in _version_key(cand_version)),
        order,
    )
    return (
        Candidate(entry, variant, reference, digests, tuple(why), tuple(caveats), rank),
        None,
    )


# --------------------------------------------------------------------------- measured choice


@dataclass
class Choice:
    """A candidate as measured, with its digest pin and the before → after difference."""

    candidate: Candidate
    measurement: Measurement
    digest: str | None
    pin_reason: str | None
    caveats: list[str]
    delta: dict[str, Any]

    @property
    def pinned_reference(self) -> str | None:
        """``repo:tag@sha256:…`` (familiar form), or None when no digest could be had."""
        if self.digest is None:
            return None
        ref = parse_reference(self.candidate.reference)
        return ref.with_digest(self.digest).familiar

    def to_dict(self) -> dict[str, Any]:
        c = self.candidate
        return {
            "entry": c.entry.id,
            "provider": c.entry.provider,
            "state": c.entry.state,
            "variant": c.variant_name,
            "dev": c.dev,
            "reference": c.reference,
            "digest": self.digest,
            "pinnedReference": self.pinned_reference,
            "pinReason": self.pin_reason,
            "runtime": c.entry.runtime.to_dict() if c.entry.runtime else None,
            "why": list(c.why),
            "caveats": list(self.caveats),
            "measurement": self.measurement.to_dict(),
            "delta": self.delta,
        }


def measure_choice(candidate: Candidate, current: Measurement, measurer: Measurer) -> Choice:
    """Measure a candidate, find its digest, and compute the measured difference."""
    measured = measurer.measure(candidate.reference, pinned=candidate.digests)
    digest, pin_reason = None, None
    ref = parse_reference(candidate.reference)
    if ref.digest:
        digest = ref.digest
    elif measured.analysis is not None:
        image = measured.analysis.image
        found = [d for d in (image.index_digest, image.manifest_digest) if d]
        # A digest the catalog pins, so that the pinned reference is approved as written.
        digest = next((d for d in found if d in candidate.digests), None) or measured.digest
    elif len(candidate.digests) == 1:
        digest = candidate.digests[0]
    else:
        pin_reason = (
            f"catalog entry {candidate.entry.id} pins "
            f"{'no digest' if not candidate.digests else 'several digests'} for "
            f"{candidate.reference}, and it could not be resolved: {measured.reason}"
        )
    caveats = list(candidate.caveats) + measured_caveats(current, measured)
    return Choice(candidate, measured, digest, pin_reason, caveats, delta(current, measured))


def measured_caveats(before: Measurement, after: Measurement) -> list[str]:
    """What changes for the application, from measured facts only."""
    b, a = before.facts, after.facts
    if a is None:
        return []
    out = []
    if not a.has_shell and (b is None or b.has_shell):
        out.append(
            f"no shell in {after.reference}: shell-form RUN/CMD/ENTRYPOINT and `sh -c` fail; "
            "use exec form and do shell work in a build stage"
        )
    if not after.package_managers and (b is None or before.package_managers):
        out.append(
            f"no package manager in {after.reference}: install packages in a build stage "
            "and COPY --from it"
        )
    if b is not None and b.runs_as_root and not a.runs_as_root:
        out.append(
            f"runs as {user_label(a)}: files the application writes must belong to that user; "
            "ports below 1024 need CAP_NET_BIND_SERVICE"
        )
    if b is not None and not b.has_shell and a.has_shell:
        out.append(f"{after.reference} adds a shell the current image does not have")
    return out


def delta(before: Measurement, after: Measurement) -> dict[str, Any]:
    """Measured before → after values; ``notMeasured`` names the side missing and why."""
    missing = {m.reference: m.reason for m in (before, after) if not m.measured}
    if missing:
        return {"measured": False, "notMeasured": missing}
    b, a = before.facts, after.facts
    assert b is not None and a is not None and before.analysis and after.analysis
    out: dict[str, Any] = {
        "measured": True,
        "shell": {"before": b.has_shell, "after": a.has_shell},
        "shells": {"before": before.shells, "after": after.shells},
        "packageManagers": {"before": before.package_managers, "after": after.package_managers},
        "runsAsRoot": {"before": b.runs_as_root, "after": a.runs_as_root},
        "user": {"before": user_label(b), "after": user_label(a)},
        "compressedSize": {"before": b.compressed_size, "after": a.compressed_size},
        "uncompressedSize": {"before": b.uncompressed_size, "after": a.uncompressed_size},
        "packages": {
            "before": len(before.analysis.packages),
            "after": len(after.analysis.packages),
        },
        "distro": {
            "before": before.analysis.distro.display,
            "after": after.analysis.distro.display,
        },
    }
    bc, ac = before.severity_counts(), after.severity_counts()
    if bc is None or ac is None:
        out["vulnerabilities"] = {
            "measured": False,
            "reason": before.scan_reason or after.scan_reason,
        }
    else:
        out["vulnerabilities"] = {
            "measured": True,
            "before": {k.lower(): v for k, v in bc.items()},
            "after": {k.lower(): v for k, v in ac.items()},
            "totalBefore": sum(bc.values()),
            "totalAfter": sum(ac.values()),
        }
    return out


# --------------------------------------------------------------------------- recommendations


@dataclass
class Recommendation:
    """One current image (in one kind of stage) and what to move it to."""

    reference: str
    want: str  # "runtime" (final stages) or "dev" (build stages)
    uses: list[UseVerdict]
    current: Measurement
    runtime: DetectedRuntime
    best: Choice | None
    alternatives: list[Choice] = field(default_factory=list)
    reason: str | None = None  # why there is no recommendation
    skipped: list[str] = field(default_factory=list)

    @property
    def judgement(self) -> Judgement:
        found = worst(self.uses)
        assert found is not None
        return found.judgement

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "stage": "build" if self.want == "dev" else "final",
            "want": self.want,
            "verdict": self.judgement.to_dict(),
            "uses": [{**u.use.to_dict(), "verdict": u.judgement.to_dict()} for u in self.uses],
            "current": self.current.to_dict(),
            "runtime": self.runtime.to_dict(),
            "recommendation": self.best.to_dict() if self.best else None,
            "reason": self.reason,
            "alternatives": [a.to_dict() for a in self.alternatives],
            "notCandidates": list(self.skipped),
        }


def recommend_reference(
    reference: str,
    want: str,
    catalog: Catalog,
    measurer: Measurer,
    today: date,
    *,
    uses: Iterable[UseVerdict] = (),
    alternatives: int = 2,
    prefer: Sequence[str] = (),
) -> Recommendation:
    """The best catalog entry for ``reference`` used as ``want`` (runtime or dev), measured."""
    current = measurer.measure(reference)
    runtime = detect_runtime(reference, current.analysis)
    found = catalog.match(reference)
    ranked, skipped = candidates(catalog, runtime, want, today, current=found, prefer=prefer)
    rec = Recommendation(reference, want, list(uses), current, runtime, None, skipped=skipped)
    if not ranked:
        rec.reason = f"no catalog entry qualifies for {runtime.label}" + (
            f" ({'; '.join(skipped)})" if skipped else " (the catalog is empty)"
        )
        return rec
    rec.best = measure_choice(ranked[0], current, measurer)
    rec.alternatives = [measure_choice(c, current, measurer) for c in ranked[1 : 1 + alternatives]]
    return rec


#: Inventory roles of the images a Dockerfile builds on.
BASE_ROLES = frozenset({"base", "build"})


def want_for(role: str) -> str:
    """Build stages get a dev variant; final stages the runtime image."""
    return "dev" if role == "build" else "runtime"


def check_prefer(catalog: Catalog, prefer: Sequence[str]) -> None:
    """Refuse ``--prefer`` ids the catalog does not have (a typo would silently do nothing)."""
    unknown = [p for p in prefer if catalog.get(p) is None]
    if unknown:
        from baseguard.errors import UsageError

        raise UsageError(
            f"--prefer {unknown[0]}: no catalog entry has that id",
            hint="`baseguard catalog list` shows the entry ids",
        )


def needs_recommendation(judgement: Judgement) -> bool:
    """Everything but ``approved``: the verdicts recommend shows a way out of."""
    return judgement.verdict is not Verdict.APPROVED


@dataclass
class RecommendationReport:
    recommendations: list[Recommendation]
    approved: list[str]
    catalog_source: str | None
    today: date
    generated_at: datetime
    inventory_issues: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        recs = self.recommendations
        return {
            "images": len(recs),
            "withRecommendation": sum(1 for r in recs if r.best),
            "withoutRecommendation": sum(1 for r in recs if r.best is None),
            "measured": sum(1 for r in recs if r.best and r.best.delta.get("measured")),
            "approvedImages": len(self.approved),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "schemaVersion": "1",
            "tool": {"name": "baseguard", "version": __version__},
            "generatedAt": self.generated_at.isoformat(),
            "catalog": {"file": self.catalog_source, "date": self.today.isoformat()},
            "summary": self.summary(),
            "recommendations": [r.to_dict() for r in self.recommendations],
            "approved": list(self.approved),
            "inventoryIssues": list(self.inventory_issues),
            "warnings": list(self.warnings),
        }


def recommend(
    inventory: Inventory,
    catalog: Catalog,
    measurer: Measurer,
    *,
    today: date,
    alternatives: int = 2,
    catalog_source: str | None = None,
    prefer: Sequence[str] = (),
) -> RecommendationReport:
    """A recommendation for every base image of ``inventory`` the catalog does not approve."""
    groups: dict[tuple[str, str], list[UseVerdict]] = {}
    approved: set[str] = set()
    for use in inventory.uses:
        if use.role not in BASE_ROLES:
            continue
        verdict = UseVerdict(use, judge(catalog, use.reference, use.role, today))
        if not needs_recommendation(verdict.judgement):
            approved.add(use.reference)
            continue
        groups.setdefault((use.reference, want_for(use.role)), []).append(verdict)
    recs = [
        recommend_reference(
            ref, want, catalog, measurer, today, uses=uses, alternatives=alternatives, prefer=prefer
        )
        for (ref, want), uses in sorted(groups.items())
    ]
    warnings = sorted(
        {
            w
            for r in recs
            for m in (r.current, *(c.measurement for c in ([r.best] if r.best else [])))
            if m.scan
            for w in m.scan.warnings
            if "database" in w.lower()
        }
    )
    return RecommendationReport(
        recommendations=recs,
        approved=sorted(approved - {r for r, _ in groups}),
        catalog_source=catalog_source,
        today=today,
        generated_at=measurer.now,
        inventory_issues=[str(i) for i in inventory.issues],
        warnings=warnings,
    )
