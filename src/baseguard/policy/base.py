"""The admission-policy generator family: the catalog compiled once, written per engine.

Every generator (Kyverno, Gatekeeper, ValidatingAdmissionPolicy, sigstore policy-controller)
starts from the same :class:`CompiledCatalog`, so that they all mean the same thing:

* every image must be pinned by digest (``@sha256:`` or ``@sha512:``); a live exception does
  not waive this;
* the image is judged as :func:`baseguard.catalog.verdicts.judge` judges a running image: the
  best catalog match (digest before exact tag before tag glob, a dev variant before the main
  image, then file order) decides; ``retired``, ``past-eol`` (after the end-of-life date),
  ``proposed`` and ``dev-variant-in-production`` are refused, ``approved`` and
  ``deprecated`` admitted; no match at all is ``not-in-catalog``;
* a live exception (``created`` ≤ today ≤ ``expires``, UTC days) admits what the catalog
  refuses. Dates are compared with the clock at admission, so an exception expires and an
  entry reaches its end of life without regenerating the policy.

Repositories are compared exactly, never as prefixes: ``registry.io/org`` never admits
``registry.io/org-evil/x``. Engines that cannot normalise a reference (CEL, Kyverno's
wildcards) get every spelling that :func:`baseguard.refs.parse_reference` reads as the same
repository (``alpine``, ``library/alpine``, ``docker.io/alpine``, ``index.docker.io/…``).

Generators are registered by name in :data:`POLICY_GENERATORS` (``module:Class`` strings,
imported when chosen); the CLI builds its ``--engine`` choices from that dict.
"""

from __future__ import annotations

import functools
import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from baseguard.errors import BaseguardError, UsageError

if TYPE_CHECKING:  # the catalog is imported only when a policy is generated (fast CLI start)
    import yaml

    from baseguard.catalog.model import Catalog, CatalogEntry, Signature

#: As :mod:`baseguard.refs` defines them (a test keeps them equal).
DOCKER_HUB = "docker.io"
DOCKER_HUB_ALIASES = frozenset({DOCKER_HUB, "index.docker.io", "registry-1.docker.io"})
OFFICIAL_NAMESPACE = "library"

#: ``--engine`` name -> ``module:Class`` of its :class:`PolicyGenerator`.
POLICY_GENERATORS: dict[str, str] = {
    "kyverno": "baseguard.policy.kyverno:KyvernoGenerator",
    "gatekeeper": "baseguard.policy.gatekeeper:GatekeeperGenerator",
    "vap": "baseguard.policy.vap:VapGenerator",
    "policy-controller": "baseguard.policy.policy_controller:PolicyControllerGenerator",
}

MODES = ("audit", "enforce")
#: A Kubernetes object name (DNS-1123 subdomain) and a namespace name (DNS-1123 label).
_OBJECT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
#: Room left in a 253-character name for the suffixes the generators append.
_MAX_NAME = 200
#: Namespaces never judged unless the user says otherwise: the cluster's own and ours.
DEFAULT_EXEMPT_NAMESPACES = ("kube-system", "baseguard-system")
DEFAULT_NAME = "baseguard-catalog"

#: Verdict keywords, as :class:`baseguard.catalog.verdicts.Verdict` spells them, plus the
#: admission-only ones.
DIGEST_REQUIRED = "digest-required"
INVALID_REFERENCE = "invalid-reference"
NOT_IN_CATALOG = "not-in-catalog"
RETIRED = "retired"
PAST_EOL = "past-eol"
PROPOSED = "proposed"
DEV_VARIANT = "dev-variant-in-production"

#: Pod-template-bearing kinds, by API group, and where their pod spec is.
WORKLOAD_KINDS: dict[str, tuple[str, str, str]] = {
    # kind: (apiGroup, version, plural)
    "Pod": ("", "v1", "pods"),
    "ReplicationController": ("", "v1", "replicationcontrollers"),
    "Deployment": ("apps", "v1", "deployments"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "ReplicaSet": ("apps", "v1", "replicasets"),
    "Job": ("batch", "v1", "jobs"),
    "CronJob": ("batch", "v1", "cronjobs"),
}
TEMPLATE_KINDS = tuple(k for k in WORKLOAD_KINDS if k not in ("Pod", "CronJob"))
CONTAINER_FIELDS = ("containers", "initContainers", "ephemeralContainers")

#: in-toto predicate types the catalog's attestation requirements map to.
SLSA_PREDICATES = {
    "v1": "https://slsa.dev/provenance/v1",
    "v0.2": "https://slsa.dev/provenance/v0.2",
}
SBOM_PREDICATES = {
    "spdx": "https://spdx.dev/Document",
    "cyclonedx": "https://cyclonedx.org/bom",
}
VEX_PREDICATE = "https://openvex.dev/ns"
FULCIO_URL = "https://fulcio.sigstore.dev"
REKOR_URL = "https://rekor.sigstore.dev"

# ----------------------------------------------------------------------------- regexes
# RE2 (Go: Gatekeeper, Kubernetes CEL, Kyverno) and Rust regex (regorus, the CEL library
# the tests use) share this subset: no look-around, no back-references.

_DC = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_PORT = r"(?::[0-9]{1,5})?"
#: A first path component that is a registry: has a dot or a port, is localhost, or IPv6.
REGISTRY_RE = (
    rf"(?:{_DC}(?:\.{_DC})+{_PORT}|localhost{_PORT}|{_DC}:[0-9]{{1,5}}|\[[a-fA-F0-9:]+\]{_PORT})"
)
PATH_COMPONENT_RE = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
TAG_RE = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
DIGEST_RE = r"(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})"
#: The image ends with a well-formed digest.
HAS_DIGEST_RE = rf"@{DIGEST_RE}$"
#: A whole reference that parse_reference accepts, pinned by digest (name length aside).
_FIRST_COMPONENT_RE = r"[a-z0-9]+(?:(?:_|__|-+)[a-z0-9]+)*"  # no dot: else it is a registry
VALID_PINNED_RE = (
    rf"^(?:{REGISTRY_RE}/{PATH_COMPONENT_RE}|{_FIRST_COMPONENT_RE})(?:/{PATH_COMPONENT_RE})*"
    rf"(?::{TAG_RE})?@{DIGEST_RE}$"
)
_TAG_CHAR = r"[A-Za-z0-9_.-]"
_META = set("\\.^$|?*+()[]{}")


def is_glob(text: str) -> bool:
    """True when ``text`` has a ``*`` or ``?`` wildcard."""
    return "*" in text or "?" in text


def re_escape(text: str) -> str:
    """Escape regex metacharacters (only those: the result reads well in YAML)."""
    return "".join("\\" + c if c in _META else c for c in text)


def glob_regex(text: str) -> str:
    """Catalog exception glob semantics (``**`` any, ``*``/``?`` never ``/``) as a regex."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        c = text[i]
        out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else re_escape(c))
        i += 1
    return "".join(out)


def tag_glob_regex(pattern: str) -> str:
    """A catalog tag or tag glob (fnmatch ``*`` and ``?``) over tag characters, unanchored."""
    return "".join(
        f"{_TAG_CHAR}*" if c == "*" else _TAG_CHAR if c == "?" else re_escape(c) for c in pattern
    )


def _first_is_registry(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def repository_spellings(repository: str) -> list[str]:
    """Every way to write ``repository`` that parse_reference reads as it (registry lowercase).

    ``docker.io/library/alpine`` → ``alpine``, ``library/alpine``, ``docker.io/alpine``,
    ``docker.io/library/alpine``, and the same under ``index.docker.io`` and
    ``registry-1.docker.io``. Any other registry has one spelling.
    """
    registry, _, path = repository.partition("/")
    if registry != DOCKER_HUB:
        return [repository]
    paths = [path]
    if path.startswith(f"{OFFICIAL_NAMESPACE}/") and path.count("/") == 1:
        paths.append(path[len(OFFICIAL_NAMESPACE) + 1 :])
    out: list[str] = []
    if not _first_is_registry(path.split("/", 1)[0]):
        out.extend(paths)
    for host in sorted(DOCKER_HUB_ALIASES):
        out.extend(f"{host}/{p}" for p in paths)
    return sorted(set(out))


def name_spellings_regex(name: str) -> str:
    """A regex for every spelling of a repository name or name glob (registry case-blind).

    Literal Docker Hub names get all the spellings of :func:`repository_spellings`; a glob
    name is matched as written after its registry, with Docker Hub's aliases for the host
    (an approximation: ``docker.io/*/app`` does not match the bare ``app``).
    """
    registry, _, path = name.partition("/")
    reg = f"(?i:{glob_regex(registry)})"
    if registry != DOCKER_HUB:
        return f"{reg}/{glob_regex(path)}"
    hosts = "|".join(re_escape(h) for h in sorted(DOCKER_HUB_ALIASES))
    reg = f"(?i:{hosts})"
    if is_glob(path):
        return f"{reg}/{glob_regex(path)}"
    rest = path
    lib = f"{OFFICIAL_NAMESPACE}/"
    if path.startswith(lib) and path.count("/") == 1:
        rest_re = f"(?:{re_escape(lib)})?{re_escape(path[len(lib) :])}"
    else:
        rest_re = re_escape(rest)
    if _first_is_registry(path.split("/", 1)[0]):
        return f"{reg}/{rest_re}"
    return f"(?:{reg}/)?{rest_re}"


def split_pattern(pattern: str) -> tuple[str, str, bool]:
    """A normalised exception pattern → (name, the ``:tag``/``@digest`` rest, has either)."""
    rest, at, digest = pattern.partition("@")
    slash, colon = rest.rfind("/"), rest.rfind(":")
    if colon > slash:
        name, tail = rest[:colon], rest[colon:]
    else:
        name, tail = rest, ""
    if at:
        tail += "@" + digest
    return name, tail, bool(tail)


# ----------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class PolicyOptions:
    """How the policies apply: mode, namespaces, and the attestation formats to require."""

    mode: str = "enforce"
    exempt_namespaces: tuple[str, ...] = DEFAULT_EXEMPT_NAMESPACES
    opt_in_label: tuple[str, str] | None = None
    name: str = DEFAULT_NAME
    slsa_predicate: str = SLSA_PREDICATES["v1"]
    sbom_predicate: str = SBOM_PREDICATES["spdx"]
    #: Directory that relative ``key:`` paths in the catalog are read from.
    base_dir: Path = Path(".")

    @property
    def enforce(self) -> bool:
        return self.mode == "enforce"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"unknown mode {self.mode!r}", hint=f"use one of {', '.join(MODES)}")
        if len(self.name) > _MAX_NAME or not _OBJECT_NAME.fullmatch(self.name):
            raise UsageError(
                f"--name {self.name!r} is not a Kubernetes object name",
                hint=f"use at most {_MAX_NAME} lowercase letters, digits, '-' and '.', starting "
                "and ending with a letter or digit, for example baseguard-catalog",
            )
        for namespace in self.exempt_namespaces:
            if len(namespace) > 63 or not _NAMESPACE.fullmatch(namespace):
                raise UsageError(
                    f"--exempt-namespace {namespace!r} is not a namespace name",
                    hint="use at most 63 lowercase letters, digits and '-', starting and ending "
                    "with a letter or digit, for example kube-system",
                )


@dataclass(frozen=True)
class ImageRule:
    """One way a pinned reference matches the catalog, in catalog precedence order.

    ``kind`` is ``digest`` (one of ``values`` is the reference's digest, whatever its tag),
    ``tag`` (the tag is one of ``values``) or ``glob`` (the tag matches one of the globs).
    ``reason`` is the refusal that does not depend on the date (``retired``, ``proposed``,
    ``dev-variant-in-production``; empty: admitted); ``eol_end`` the first instant (UTC)
    after the end-of-life day, from which the rule refuses with ``past-eol``.
    """

    id: str
    entry: str
    variant: str | None
    repository: str
    kind: str
    values: tuple[str, ...]
    reason: str
    eol_end: datetime | None
    deprecated: bool = False

    @property
    def tag_regex(self) -> str:
        """The tag condition as an anchored regex (tag and glob kinds)."""
        return "^(?:" + "|".join(tag_glob_regex(v) for v in self.values) + ")$"

    def raw_regex(self) -> str:
        """Anchored regex over the image as written in the pod spec."""
        name = name_spellings_regex(self.repository)
        if self.kind == "digest":
            digests = "|".join(re_escape(d) for d in self.values)
            return f"^{name}(?::{TAG_RE})?@(?:{digests})$"
        tags = "|".join(tag_glob_regex(v) for v in self.values)
        return f"^{name}:(?:{tags})@{DIGEST_RE}$"

    def wildcards(self) -> list[str]:
        """Kyverno wildcard patterns (``*``, ``?``) over the image as written."""
        out: list[str] = []
        for spelling in repository_spellings(self.repository):
            for value in self.values:
                if self.kind == "digest":
                    out += [f"{spelling}@{value}", f"{spelling}:*@{value}"]
                else:
                    out.append(f"{spelling}:{value}@*")
        return out


@dataclass(frozen=True)
class ExceptionRule:
    """A catalog exception: its pattern as regexes, live from ``start`` until ``end`` (UTC)."""

    id: str
    pattern: str
    start: datetime
    end: datetime
    approver: str
    justification: str

    def regex(self) -> str:
        """Anchored regex over the normalised reference (what CatalogException.matches uses)."""
        name, tail, has_tail = split_pattern(self.pattern)
        suffix = "" if has_tail else "(?:[:@][^/]*)?"
        return f"^{glob_regex(name)}{glob_regex(tail)}{suffix}$"

    def raw_regex(self) -> str:
        """Anchored regex over the image as written (every spelling of the name)."""
        name, tail, has_tail = split_pattern(self.pattern)
        suffix = "" if has_tail else "(?:[:@][^/]*)?"
        return f"^{name_spellings_regex(name)}{glob_regex(tail)}{suffix}$"


@dataclass(frozen=True)
class SignedEntry:
    """A catalog entry with signature (and attestation) requirements."""

    entry: str
    repository: str
    signature: Signature
    key_pem: str | None
    attestations: tuple[tuple[str, str], ...]  # (name, predicate type)


@dataclass
class CompiledCatalog:
    """The catalog as admission rules: ordered image rules, exceptions, signed entries."""

    rules: list[ImageRule]
    exceptions: list[ExceptionRule]
    signed: list[SignedEntry]
    repositories: list[str]
    notes: list[str] = field(default_factory=list)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def compile_catalog(catalog: Catalog, options: PolicyOptions) -> CompiledCatalog:
    """Turn ``catalog`` into rules ordered exactly as ``Catalog.match_detail`` ranks matches."""
    ranked: list[tuple[tuple[int, int, int, int], ImageRule]] = []
    notes: list[str] = []
    for order, entry in enumerate(catalog.entries):
        eol_end = day_start(entry.eol + timedelta(days=1)) if entry.eol else None
        for slot_index, (variant, tags, digests) in enumerate(entry.slots()):
            dev = variant is not None and variant.dev
            if entry.state == "retired":
                reason = RETIRED
            elif entry.state == "proposed":
                reason = PROPOSED
            elif dev and not entry.dev_in_production:
                reason = DEV_VARIANT
            else:
                reason = ""
            base = f"{entry.id}" + (f"-{variant.name}" if variant else "")
            groups: list[tuple[int, str, tuple[str, ...]]] = []
            if digests:
                groups.append((0, "digest", digests))
            else:
                exact = tuple(t for t in tags if not is_glob(t))
                globs = tuple(t for t in tags if is_glob(t))
                if exact:
                    groups.append((1, "tag", exact))
                if globs:
                    groups.append((2, "glob", globs))
            for kind_rank, kind, values in groups:
                rule = ImageRule(
                    id=f"{base}-{kind}",
                    entry=str(entry.id),
                    variant=str(variant.name) if variant else None,
                    repository=str(entry.repository),
                    kind=kind,
                    values=tuple(str(v) for v in values),
                    reason=reason,
                    eol_end=eol_end,
                    deprecated=entry.state == "deprecated",
                )
                ranked.append(((kind_rank, 0 if dev else 1, order, slot_index), rule))
    ranked.sort(key=lambda item: item[0])
    exceptions = [
        ExceptionRule(
            id=x.id,
            pattern=x.pattern,
            start=day_start(x.created),
            end=day_start(x.expires + timedelta(days=1)),
            approver=x.approver,
            justification=x.justification,
        )
        for x in sorted(catalog.exceptions, key=lambda x: x.id)
    ]
    signed = [s for e in catalog.entries if (s := _signed(e, options, notes)) is not None]
    repositories = sorted({e.repository for e in catalog.entries})
    return CompiledCatalog(
        rules=[r for _, r in ranked],
        exceptions=exceptions,
        signed=sorted(signed, key=lambda s: s.entry),
        repositories=repositories,
        notes=notes,
    )


def _signed(entry: CatalogEntry, options: PolicyOptions, notes: list[str]) -> SignedEntry | None:
    att = entry.attestations
    if att is None:
        return None
    wanted: list[tuple[str, str]] = []
    if att.slsa_level:
        wanted.append(("slsa-provenance", options.slsa_predicate))
    if att.sbom:
        wanted.append(("sbom", options.sbom_predicate))
    if att.vex:
        wanted.append(("vex", VEX_PREDICATE))
    if att.signature is None:
        if wanted:
            notes.append(
                f"entry {entry.id}: attestations are required but no signature identity or key "
                "is given to verify them with; no signature policy is generated for it"
            )
        return None
    if entry.state in ("retired", "proposed"):
        return None  # refused anyway: no need to verify what cannot run
    key_pem = None
    if att.signature.key is not None:
        key_pem = read_key(att.signature.key, options.base_dir, entry.id)
    return SignedEntry(entry.id, entry.repository, att.signature, key_pem, tuple(wanted))


def read_key(path_text: str, base_dir: Path, entry_id: str) -> str:
    """The PEM text of a catalog ``key:`` (relative to the catalog's directory)."""
    path = Path(path_text)
    if not path.is_absolute():
        path = base_dir / path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaseguardError(
            f"entry {entry_id}: cannot read public key {path}: {exc.strerror or exc}",
            hint="key: is a PEM public key file, relative to the catalog file's directory",
        ) from None
    if "-----BEGIN PUBLIC KEY-----" not in text:
        raise BaseguardError(f"entry {entry_id}: {path} is not a PEM public key")
    return text.strip() + "\n"


# ----------------------------------------------------------------------------- generators


@dataclass
class Resource:
    """One generated Kubernetes object and the file it is written to."""

    body: dict[str, Any]

    def __post_init__(self) -> None:
        self.body = plain(self.body)

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def filename(self) -> str:
        return f"{_kebab(self.kind)}-{self.name}.yaml"


def _kebab(kind: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", kind).lower()


@dataclass
class Generated:
    """What a generator made: resources in apply order, and notes for the user."""

    resources: list[Resource]
    notes: list[str] = field(default_factory=list)


class PolicyGenerator(ABC):
    """One admission engine's policies from a compiled catalog."""

    name: ClassVar[str]
    #: One line for ``--help``.
    description: ClassVar[str]

    @abstractmethod
    def generate(self, compiled: CompiledCatalog, options: PolicyOptions) -> Generated:
        """The engine's resources (deterministic: the same catalog gives the same bytes)."""


def policy_generator(name: str) -> PolicyGenerator:
    """An instance of the generator registered as ``name``."""
    try:
        target = POLICY_GENERATORS[name]
    except KeyError:
        raise UsageError(
            f"unknown policy engine {name!r}",
            hint=f"choose one of: {', '.join(POLICY_GENERATORS)}",
        ) from None
    module_name, _, class_name = target.partition(":")
    cls: type[PolicyGenerator] = getattr(importlib.import_module(module_name), class_name)
    return cls()


def generate(engine: str, catalog: Catalog, options: PolicyOptions) -> Generated:
    """Compile ``catalog`` and write it for ``engine``; the compile notes are kept."""
    compiled = compile_catalog(catalog, options)
    out = policy_generator(engine).generate(compiled, options)
    out.notes = [*compiled.notes, *out.notes]
    return out


@functools.cache
def _dumper() -> type[yaml.SafeDumper]:
    """Block style; multi-line strings (Rego, CEL, PEM) as literal blocks. Made on first use:
    the CLI imports this module for its choices, and PyYAML is not needed to list them."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, str_representer)
    return Dumper


def plain(value: Any) -> Any:
    """Plain JSON types (the catalog loader hands out str subclasses that keep YAML quoting)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def to_yaml(body: dict[str, Any]) -> str:
    """One document, keys in the order built (deterministic), wide lines kept whole."""
    import yaml

    return yaml.dump(body, Dumper=_dumper(), sort_keys=False, default_flow_style=False, width=4096)


def to_stream(resources: Sequence[Resource]) -> str:
    """A multi-document YAML stream."""
    return "".join(f"---\n{to_yaml(r.body)}" for r in resources)


def labels() -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": "baseguard"}
