"""The catalog of approved base images: entries, variants, lifecycle, SLAs and exceptions.

A :class:`Catalog` is what ``catalog.yaml`` says, checked: every entry names one repository
exactly (``cgr.dev/chainguard/python``, normalised as :func:`~baseguard.refs.parse_reference`
does), the tags it allows (globs such as ``3.12*``) and the digests it pins. Matching never
compares prefixes: ``registry.io/org`` does not match ``registry.io/org-evil/app``.

Every class converts to and from plain JSON-ready dicts (``to_dict``/``from_dict``; dates
as ``YYYY-MM-DD``, durations as ``24h``/``7d``). ``from_dict`` validates strictly and raises
:class:`CatalogValidationError` naming the path of the offending value and the rule broken.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any, TypeVar

from baseguard.errors import BaseguardError, ImageError
from baseguard.image.model import validate_digest
from baseguard.refs import Reference, parse_reference

#: The catalog file format this code reads and writes.
CATALOG_VERSION = 1
#: Lifecycle states, in their normal order.
STATES = ("proposed", "approved", "deprecated", "retired")
#: Providers baseguard knows by name; any other lowercase name is accepted too.
KNOWN_PROVIDERS = (
    "chainguard",
    "docker-hardened",
    "minimus",
    "google-distroless",
    "wolfi",
    "internal",
    "upstream",
)
#: Severities a patch SLA can name, most severe first.
SLA_SEVERITIES = ("critical", "high", "medium", "low")
LIBCS = ("glibc", "musl")

_ID_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")
_PROVIDER_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_TAG_PATTERN_RE = re.compile(r"[A-Za-z0-9_*?][A-Za-z0-9_.*?-]{0,127}")
_DURATION_RE = re.compile(r"([0-9]{1,6})\s*([mhdw])")
_DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_GLOB_CHARS = frozenset("*?")

PathPart = str | int


class CatalogError(BaseguardError):
    """The catalog cannot be read, or an edit of it is refused; ``hint`` says what to do."""


class CatalogValidationError(CatalogError):
    """A catalog value breaks a rule; names the file (when known), the value's path and the rule.

    ``path`` is the sequence of keys and indexes from the document root, for example
    ``("entries", 2, "lifecycle", "state")``; ``line`` is 1-based when the file is known.
    """

    def __init__(
        self,
        path: Sequence[PathPart],
        rule: str,
        *,
        source: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = tuple(path)
        self.rule = rule
        self.source = source
        self.line = line
        super().__init__(self._format(), hint=hint)

    def _format(self) -> str:
        where = ""
        if self.source:
            where = f"{self.source}:{self.line}: " if self.line else f"{self.source}: "
        return f"{where}{format_path(self.path)}: {self.rule}"

    def located(self, source: str, line: int | None) -> CatalogValidationError:
        """The same error, naming the file (and line) it was found in."""
        return CatalogValidationError(
            self.path, self.rule, source=source, line=line, hint=self.hint
        )


def format_path(path: Sequence[PathPart]) -> str:
    """``entries[2].lifecycle.state`` for ``("entries", 2, "lifecycle", "state")``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(document)"


# --------------------------------------------------------------------------- value helpers


def parse_duration(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d``, ``2w`` → a positive :class:`timedelta`; ValueError if not."""
    m = _DURATION_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None or int(m.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration like 24h, 7d or 2w")
    return timedelta(seconds=int(m.group(1)) * _DURATION_UNITS[m.group(2)])


def format_duration(value: timedelta) -> str:
    """The short form: whole days from 2 days up (``7d``), else hours (``24h``) or minutes."""
    seconds = int(value.total_seconds())
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{max(1, seconds // 60)}m"


def normalise_repository(text: str) -> str:
    """``python`` → ``docker.io/library/python``; refuses tags, digests and bad names."""
    if not isinstance(text, str) or not text:
        raise ValueError("a repository name is required")
    if "@" in text or ":" in text.rsplit("/", 1)[-1]:
        raise ValueError(
            f"{text!r} carries a tag or digest; a repository is the name only "
            "(put tags under tags: and digests under digests:)"
        )
    try:
        ref = parse_reference(text)
    except BaseguardError as exc:
        raise ValueError(exc.message) from exc
    return ref.name


def is_glob(text: str) -> bool:
    return any(c in _GLOB_CHARS for c in text)


class _Reader:
    """Typed access to one mapping of the document, each failure naming its path."""

    def __init__(self, data: Any, path: tuple[PathPart, ...], allowed: Iterable[str]) -> None:
        if not isinstance(data, Mapping):
            raise CatalogValidationError(path, f"must be a mapping, not {_kind(data)}")
        for key in data:
            if not isinstance(key, str):
                raise CatalogValidationError(path, f"key {key!r} must be a string")
        allowed_keys = tuple(allowed)
        unknown = [k for k in data if k not in allowed_keys]
        if unknown:
            raise CatalogValidationError(
                (*path, unknown[0]),
                f"unknown key {unknown[0]!r}; allowed here: {', '.join(allowed_keys)}",
            )
        self.data = data
        self.path = path

    def at(self, key: str) -> tuple[PathPart, ...]:
        return (*self.path, key)

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def str_(
        self,
        key: str,
        *,
        required: bool = False,
        pattern: re.Pattern[str] | None = None,
        what: str = "",
    ) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise CatalogValidationError(self.at(key), "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise CatalogValidationError(
                self.at(key), f"must be a non-empty string, not {_kind(value)}"
            )
        if pattern is not None and not pattern.fullmatch(value):
            raise CatalogValidationError(self.at(key), f"{value!r} is not a valid {what or key}")
        return value

    def req_str(self, key: str, *, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        value = self.str_(key, required=True, pattern=pattern, what=what)
        assert value is not None
        return value

    def bool_(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise CatalogValidationError(self.at(key), f"must be true or false, not {_kind(value)}")
        return value

    def int_(self, key: str, lo: int, hi: int) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise CatalogValidationError(self.at(key), f"must be an integer from {lo} to {hi}")
        return value

    def date_(self, key: str, *, required: bool = False) -> date | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise CatalogValidationError(self.at(key), "is required (a date, YYYY-MM-DD)")
            return None
        return parse_date(value, self.at(key))

    def list_(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            return []
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise CatalogValidationError(self.at(key), f"must be a list, not {_kind(value)}")
        return list(value)

    def str_list(self, key: str) -> tuple[str, ...]:
        out = []
        for i, item in enumerate(self.list_(key)):
            if isinstance(item, int | float) and not isinstance(item, bool):
                raise CatalogValidationError(
                    (*self.at(key), i),
                    f'must be a string, not the number {item}: quote it ("3.10" stays 3.10, '
                    "3.10 unquoted is the number 3.1)",
                )
            if not isinstance(item, str) or not item:
                raise CatalogValidationError((*self.at(key), i), "must be a non-empty string")
            out.append(item)
        return tuple(out)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, Sequence):
        return "a list"
    if isinstance(value, date):
        return f"a date ({value.isoformat()})"
    return type(value).__name__


def parse_date(value: Any, path: Sequence[PathPart] = ()) -> date:
    """A ``date`` (YAML's unquoted ``2025-05-01``) or an ISO ``YYYY-MM-DD`` string."""
    if isinstance(value, datetime):
        raise CatalogValidationError(path, f"must be a date (YYYY-MM-DD), not a time ({value})")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise CatalogValidationError(path, f"{value!r} is not a real date") from None
    raise CatalogValidationError(path, f"must be a date (YYYY-MM-DD), not {_kind(value)}")


def _tags(reader: _Reader, key: str = "tags") -> tuple[str, ...]:
    tags = reader.str_list(key)
    for i, tag in enumerate(tags):
        if not _TAG_PATTERN_RE.fullmatch(tag):
            raise CatalogValidationError(
                (*reader.at(key), i),
                f"{tag!r} is not a tag or tag glob (letters, digits, '_', '.', '-', "
                "with '*' and '?' as wildcards)",
            )
    if len(set(tags)) != len(tags):
        raise CatalogValidationError(reader.at(key), "lists a tag twice")
    return tags


def _digests(reader: _Reader, key: str = "digests") -> tuple[str, ...]:
    digests = reader.str_list(key)
    for i, digest in enumerate(digests):
        try:
            validate_digest(digest)
        except ImageError:
            raise CatalogValidationError(
                (*reader.at(key), i),
                f"{digest!r} is not a digest (sha256: and 64 lowercase hex characters)",
            ) from None
    if len(set(digests)) != len(digests):
        raise CatalogValidationError(reader.at(key), "lists a digest twice")
    return digests


def _tag_matches(pattern: str, tag: str) -> bool:
    return fnmatchcase(tag, pattern) if is_glob(pattern) else pattern == tag


# --------------------------------------------------------------------------- the parts


@dataclass(frozen=True)
class Variant:
    """A flavour of an entry's image: ``runtime``, ``dev`` (shell, package manager), ``debug``.

    A ``dev`` variant is allowed only in build stages, unless its entry says
    ``dev_in_production: true``.
    """

    name: str
    tags: tuple[str, ...] = ()
    digests: tuple[str, ...] = ()
    dev: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.tags:
            out["tags"] = list(self.tags)
        if self.digests:
            out["digests"] = list(self.digests)
        out["dev"] = self.dev
        return out

    @classmethod
    def from_dict(cls, data: Any, path: tuple[PathPart, ...] = ("variant",)) -> Variant:
        r = _Reader(data, path, ("name", "tags", "digests", "dev"))
        variant = cls(
            name=r.req_str("name", pattern=_ID_RE, what="variant name (lowercase, digits, .-_)"),
            tags=_tags(r),
            digests=_digests(r),
            dev=r.bool_("dev"),
        )
        if not variant.tags and not variant.digests:
            raise CatalogValidationError(path, "a variant needs tags or digests to match")
        return variant


@dataclass(frozen=True)
class Runtime:
    """What the image is for: ``python`` ``3.12`` on ``glibc``; ``static``; ``node`` ``22``."""

    name: str
    version: str | None = None
    libc: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "libc": self.libc}

    @classmethod
    def from_dict(cls, data: Any, path: tuple[PathPart, ...] = ("runtime",)) -> Runtime:
        r = _Reader(data, path, ("name", "version", "libc"))
        version = r.raw("version")
        if isinstance(version, int | float) and not isinstance(version, bool):
            raise CatalogValidationError(
                r.at("version"),
                f'must be a string: write version: "{version}" (quoted) so that 3.10 '
                "does not become 3.1",
            )
        libc = r.str_("libc")
        if libc is not None and libc not in LIBCS:
            raise CatalogValidationError(r.at("libc"), f"must be one of {', '.join(LIBCS)} or null")
        return cls(
            name=r.req_str("name", pattern=_PROVIDER_RE, what="runtime name"),
            version=r.str_("version"),
            libc=libc,
        )


@dataclass(frozen=True)
class Owner:
    """Who answers for an entry: a team, and how to reach it."""

    team: str
    contact: str

    def to_dict(self) -> dict[str, Any]:
        return {"team": self.team, "contact": self.contact}

    @classmethod
    def from_dict(cls, data: Any, path: tuple[PathPart, ...] = ("owner",)) -> Owner:
        r = _Reader(data, path, ("team", "contact"))
        return cls(team=r.req_str("team"), contact=r.req_str("contact"))


@dataclass(frozen=True)
class Transition:
    """One lifecycle step: the state entered, when, by whom, and why."""

    state: str
    date: date
    actor: str
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "state": self.state,
            "date": self.date.isoformat(),
            "actor": self.actor,
        }
        if self.reason:
            out["reason"] = self.reason
        return out

    @classmethod
    def from_dict(cls, data: Any, path: tuple[PathPart, ...] = ("transition",)) -> Transition:
        r = _Reader(data, path, ("state", "date", "actor", "reason"))
        state = r.req_str("state")
        if state not in STATES:
            raise CatalogValidationError(r.at("state"), _bad_state(state))
        day = r.date_("date", required=True)
        assert day is not None
        return cls(state=state, date=day, actor=r.req_str("actor"), reason=r.str_("reason"))


def _bad_state(state: str) -> str:
    return f"{state!r} is not a lifecycle state; use one of {', '.join(STATES)}"


@dataclass(frozen=True)
class Lifecycle:
    """The entry's state and the transitions that led to it (dates and actors)."""

    state: str = "proposed"
    history: tuple[Transition, ...] = ()

    def since(self, state: str | None = None) -> date | None:
        """When ``state`` (default: the current one) was last entered, if recorded."""
        wanted = state or self.state
        for step in reversed(self.history):
            if step.state == wanted:
                return step.date
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "history": [t.to_dict() for t in self.history]}

    @classmethod
    def from_dict(cls, data: Any, path: tuple[PathPart, ...] = ("lifecycle",)) -> Lifecycle:
        r = _Reader(data, path, ("state", "history"))
        state = r.req_str("state")
        if state not in STATES:
            raise CatalogValidationError(r.at("state"), _bad_state(state))
        history = tuple(
            Transition.from_dict(item, (*r.at("history"), i))
            for i, item in enumerate(r.list_("history"))
        )
        if history and history[-1].state != state:
            raise CatalogValidationError(
                r.at("state"),
                f"is {state!r} but the last history step entered {history[-1].state!r}",
            )
        for i in range(1, len(history)):
            if history[i].date < history[i - 1].date:
                raise CatalogValidationError(
                    (*r.at("history"), i, "date"), "history steps must be in date order"
                )
        return cls(state=state, history=history)


@dataclass(frozen=True)
class PatchSla:
    """Time allowed to ship a fixed image after a fix is available, per severity."""

    critical: timedelta | None = None
    high: timedelta | None = None
    medium: timedelta | None = None
    low: timedelta | None = None

    def for_severity(self, severity: str) -> timedelta | None:
        key = severity.lower()
        return getattr(self, key) if key in SLA_SEVERITIES else None

    def to_dict(self) -> dict[str, str]:
        return {
            k: format_duration(v) for k in SLA_SEVERITIES if (v := getattr(self, k)) is not None
        }

    @classmethod
    def from_dict(cls, data: Any, path: tuple[PathPart, ...] = ("patch_sla",)) -> PatchSla:
        r = _Reader(data, path, SLA_SEVERITIES)
        values: dict[str, timedelta] = {}
        for key in SLA_SEVERITIES:
            raw = r.raw(key)
            if raw is None:
                continue
            try:
                values[key] = parse_duration(str(raw) if isinstance(raw, str) else raw)
            except (ValueError, TypeError):
                raise CatalogValidationError(
                    r.at(key), f"{raw!r} is not a duration like 24h, 7d or 2w"
                ) from None
        if not values:
            raise CatalogValidationError(path, "name at least one severity (critical: 24h, …)")
        return cls(**values)


@dataclass(frozen=True)
class Signature:
    """How the image must be signed: a cosign public key, or a keyless identity and issuer."""

    key: str | None = None
    identity: str | None = None
    issuer: str | None = None

    @property
    def keyless(self) -> bool:
        return self.key is None

    def to_dict(self) -> dict[str, Any]:
        if self.key is not None:
            return {"key": self.key}
        return {"identity": self.identity, "issuer": self.issuer}

    @classmethod
    def from_dict(cls, data: Any, path: tuple[PathPart, ...] = ("signature",)) -> Signature:
        r = _Reader(data, path, ("key", "identity", "issuer"))
        key, identity, issuer = r.str_("key"), r.str_("identity"), r.str_("issuer")
        if key is not None and (identity or issuer):
            raise CatalogValidationError(
                path, "give either key: (a PEM public key file) or identity: and issuer:, not both"
            )
        if key is None and not (identity and issuer):
            raise CatalogValidationError(
                path,
                "needs key: (a PEM public key file), or both identity: and issuer: for "
                "keyless signatures",
            )
        return cls(key=key, identity=identity, issuer=issuer)


@dataclass(frozen=True)
class Attestations:
    """What must be attached to the image and verified before it is used."""

    signature: Signature | None = None
    slsa_level: int | None = None
    sbom: bool = False
    vex: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "signature": self.signature.to_dict() if self.signature else None,
            "slsa_level": self.slsa_level,
            "sbom": self.sbom,
            "vex": self.vex,
        }

    @classmethod
    def from_dict(cls, data: Any, path: tuple[PathPart, ...] = ("attestations",)) -> Attestations:
        r = _Reader(data, path, ("signature", "slsa_level", "sbom", "vex"))
        sig = r.raw("signature")
        return cls(
            signature=Signature.from_dict(sig, r.at("signature")) if sig is not None else None,
            slsa_level=r.int_("slsa_level", 0, 4),
            sbom=r.bool_("sbom"),
            vex=r.bool_("vex"),
        )


# --------------------------------------------------------------------------- entries


ENTRY_KEYS = (
    "id",
    "provider",
    "repository",
    "tags",
    "digests",
    "variants",
    "runtime",
    "owner",
    "lifecycle",
    "eol",
    "patch_sla",
    "attestations",
    "dev_in_production",
    "replaced_by",
    "notes",
)


@dataclass(frozen=True)
class CatalogEntry:
    """One approved (or proposed, deprecated, retired) image repository and what it allows.

    ``tags`` and ``digests`` are the main (runtime) image's; ``variants`` add other flavours
    of the same repository. ``repository`` is normalised (``docker.io/library/alpine``).
    """

    id: str
    provider: str
    repository: str
    tags: tuple[str, ...] = ()
    digests: tuple[str, ...] = ()
    variants: tuple[Variant, ...] = ()
    runtime: Runtime | None = None
    owner: Owner | None = None
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    eol: date | None = None
    patch_sla: PatchSla | None = None
    attestations: Attestations | None = None
    dev_in_production: bool = False
    replaced_by: str | None = None
    notes: str | None = None

    @property
    def state(self) -> str:
        return self.lifecycle.state

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)

    def past_eol(self, on: date) -> bool:
        """True once the end-of-life date has passed (the EOL day itself still counts)."""
        return self.eol is not None and self.eol < on

    def slots(self) -> list[tuple[Variant | None, tuple[str, ...], tuple[str, ...]]]:
        """(variant, tags, digests) of each image the entry names: the main image (None) first,
        then its variants in file order."""
        return [(None, self.tags, self.digests), *((v, v.tags, v.digests) for v in self.variants)]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "provider": self.provider,
            "repository": self.repository,
            "tags": list(self.tags),
            "digests": list(self.digests),
            "variants": [v.to_dict() for v in self.variants],
            "runtime": self.runtime.to_dict() if self.runtime else None,
            "owner": self.owner.to_dict() if self.owner else None,
            "lifecycle": self.lifecycle.to_dict(),
            "eol": self.eol.isoformat() if self.eol else None,
            "patch_sla": self.patch_sla.to_dict() if self.patch_sla else None,
            "attestations": self.attestations.to_dict() if self.attestations else None,
            "dev_in_production": self.dev_in_production,
            "replaced_by": self.replaced_by,
            "notes": self.notes,
        }
        return out

    @classmethod
    def from_dict(cls, data: Any, path: tuple[PathPart, ...] = ("entry",)) -> CatalogEntry:
        r = _Reader(data, path, ENTRY_KEYS)
        entry_id = r.req_str(
            "id", pattern=_ID_RE, what="id (lowercase letters, digits, '.', '_', '-')"
        )
        provider = r.req_str("provider", pattern=_PROVIDER_RE, what="provider name (lowercase)")
        try:
            repository = normalise_repository(r.req_str("repository"))
        except ValueError as exc:
            raise CatalogValidationError(r.at("repository"), str(exc)) from None
        variants = tuple(
            Variant.from_dict(item, (*r.at("variants"), i))
            for i, item in enumerate(r.list_("variants"))
        )
        names = [v.name for v in variants]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise CatalogValidationError(
                    (*r.at("variants"), i, "name"), f"variant {name!r} is listed twice"
                )

        def sub(key: str, kind: Any) -> Any:
            raw = r.raw(key)
            return kind.from_dict(raw, r.at(key)) if raw is not None else None

        lifecycle = sub("lifecycle", Lifecycle) or Lifecycle()
        entry = cls(
            id=entry_id,
            provider=provider,
            repository=repository,
            tags=_tags(r),
            digests=_digests(r),
            variants=variants,
            runtime=sub("runtime", Runtime),
            owner=sub("owner", Owner),
            lifecycle=lifecycle,
            eol=r.date_("eol"),
            patch_sla=sub("patch_sla", PatchSla),
            attestations=sub("attestations", Attestations),
            dev_in_production=r.bool_("dev_in_production"),
            replaced_by=r.str_("replaced_by", pattern=_ID_RE, what="entry id"),
            notes=r.str_("notes"),
        )
        if not entry.tags and not entry.digests and not entry.variants:
            raise CatalogValidationError(
                path, f"entry {entry_id!r} needs tags, digests or variants to match images"
            )
        # A tag or digest must name one flavour: the main image or one variant, not two.
        seen: dict[str, str] = {}
        slots = [("tags", "digests", "the main image", entry.tags, entry.digests)] + [
            ("tags", "digests", f"variant {v.name!r}", v.tags, v.digests) for v in variants
        ]
        for _, _, owner, tags, digests in slots:
            for value in (*tags, *digests):
                if value in seen and seen[value] != owner:
                    raise CatalogValidationError(
                        path, f"{value!r} is listed for both {seen[value]} and {owner}"
                    )
                seen[value] = owner
        if entry.replaced_by == entry.id:
            raise CatalogValidationError(r.at("replaced_by"), "an entry cannot replace itself")
        return entry


# --------------------------------------------------------------------------- exceptions


def compile_pattern(pattern: str) -> tuple[str, re.Pattern[str]]:
    """Normalise an image reference glob and compile it.

    ``postgres:*`` → ``docker.io/library/postgres:*``. ``*`` and ``?`` never match ``/``
    (``registry.io/org/*`` does not match ``registry.io/org-evil/x`` nor
    ``registry.io/org/a/b``); ``**`` does. A pattern without a tag or digest matches every
    tag and digest of its repository. A name with wildcards must start with its registry.
    """
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("a pattern is required")
    if any(c.isspace() for c in pattern):
        raise ValueError(f"{pattern!r} contains whitespace")
    rest, at, digest = pattern.partition("@")
    slash, colon = rest.rfind("/"), rest.rfind(":")
    name, tag = (rest[:colon], rest[colon + 1 :]) if colon > slash else (rest, None)
    if not name or (at and not digest) or (tag is not None and not tag):
        raise ValueError(f"{pattern!r} is not an image reference pattern")
    if is_glob(name):
        first = name.split("/", 1)[0]
        if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
            raise ValueError(
                f"{pattern!r}: a name with wildcards must start with its registry host, "
                "for example docker.io/library/*"
            )
        norm_name = name
    else:
        try:
            norm_name = normalise_repository(name)
        except ValueError as exc:
            raise ValueError(f"{pattern!r}: {exc}") from None
    if tag is not None and not _TAG_PATTERN_RE.fullmatch(tag):
        raise ValueError(f"{pattern!r}: {tag!r} is not a tag or tag glob")
    normalised = norm_name + (f":{tag}" if tag is not None else "") + (f"@{digest}" if at else "")
    regex = _glob_to_regex(normalised)
    if tag is None and not at:
        regex += r"(?:[:@][^/]*)?"
    return normalised, re.compile(regex)


def _glob_to_regex(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if text.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c))
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class CatalogException:
    """A time-limited waiver for images matching ``pattern``; expired ones no longer count.

    An exception is live from ``created`` up to and including ``expires``.
    """

    id: str
    pattern: str
    justification: str
    approver: str
    created: date
    expires: date

    def live(self, on: date) -> bool:
        return self.created <= on <= self.expires

    def matches(self, reference: str | Reference) -> bool:
        """True when the normalised ``reference`` matches the pattern."""
        try:
            ref = reference if isinstance(reference, Reference) else parse_reference(reference)
            _, regex = compile_pattern(self.pattern)
        except (BaseguardError, ValueError):
            return False
        return regex.fullmatch(str(ref)) is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pattern": self.pattern,
            "justification": self.justification,
            "approver": self.approver,
            "created": self.created.isoformat(),
            "expires": self.expires.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Any, path: tuple[PathPart, ...] = ("exception",)) -> CatalogException:
        r = _Reader(
            data, path, ("id", "pattern", "justification", "approver", "created", "expires")
        )
        exc_id = r.req_str(
            "id", pattern=_ID_RE, what="id (lowercase letters, digits, '.', '_', '-')"
        )
        try:
            pattern, _ = compile_pattern(r.req_str("pattern"))
        except ValueError as exc:
            raise CatalogValidationError(r.at("pattern"), str(exc)) from None
        created, expires = r.date_("created", required=True), r.date_("expires", required=True)
        assert created is not None and expires is not None
        if expires < created:
            raise CatalogValidationError(
                r.at("expires"), f"{expires} is before the exception was created ({created})"
            )
        return cls(
            id=exc_id,
            pattern=pattern,
            justification=r.req_str("justification"),
            approver=r.req_str("approver"),
            created=created,
            expires=expires,
        )


# --------------------------------------------------------------------------- the catalog


_Parsed = TypeVar("_Parsed")


def parse_stored(
    rows: Iterable[dict[str, Any]], parse: Callable[[Any], _Parsed]
) -> tuple[list[_Parsed], list[tuple[str, str]]]:
    """Parse entries or exceptions read back from the store (``CatalogEntry.from_dict`` or
    ``CatalogException.from_dict``): the rows that no longer validate come back as
    ``(id, message)`` instead of failing the whole read."""
    parsed: list[_Parsed] = []
    invalid: list[tuple[str, str]] = []
    for raw in rows:
        try:
            parsed.append(parse(raw))
        except CatalogError as exc:
            invalid.append((str(raw.get("id")), exc.message))
    return parsed, invalid


@dataclass(frozen=True)
class Match:
    """How a reference matched: the entry, the variant (None: the main image), and by what."""

    entry: CatalogEntry
    variant: Variant | None
    by: str  # "digest" | "tag"
    exact: bool

    @property
    def dev(self) -> bool:
        return self.variant is not None and self.variant.dev


@dataclass(frozen=True)
class Catalog:
    """The whole catalog: entries by id, and exceptions."""

    version: int = CATALOG_VERSION
    entries: tuple[CatalogEntry, ...] = ()
    exceptions: tuple[CatalogException, ...] = ()

    def get(self, entry_id: str) -> CatalogEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

    def get_exception(self, exception_id: str) -> CatalogException | None:
        return next((x for x in self.exceptions if x.id == exception_id), None)

    def for_repository(self, repository: str) -> list[CatalogEntry]:
        """Entries naming exactly this normalised repository (never a prefix of it)."""
        return [e for e in self.entries if e.repository == repository]

    def match(self, reference: str | Reference) -> tuple[CatalogEntry, Variant | None] | None:
        """The entry and variant (None: the entry's main image) allowing ``reference``."""
        found = self.match_detail(reference)
        return (found.entry, found.variant) if found else None

    def match_detail(self, reference: str | Reference) -> Match | None:
        """Like :meth:`match`, with how it matched.

        The repository must be equal, not a prefix. A reference with a digest matches a
        pinned digest; if the entry (or variant) pins digests, any other digest does not
        match, and if it pins none, the tag decides. Without a digest the tag must be one of
        the allowed tags or globs. When several match: digest before exact tag before glob,
        a dev variant before the main image (so a dev image is never taken for a runtime
        one), then file order.
        """
        ref = _parse(reference)
        if ref is None:
            return None
        candidates: list[tuple[tuple[int, int, int], Match]] = []
        for order, entry in enumerate(self.for_repository(ref.name)):
            for variant, tags, digests in entry.slots():
                how = _slot_match(ref, tags, digests)
                if how is None:
                    continue
                by, exact = how
                m = Match(entry, variant, by, exact)
                rank = (0 if by == "digest" else 1 if exact else 2, 0 if m.dev else 1, order)
                candidates.append((rank, m))
        if not candidates:
            return None
        return min(candidates, key=lambda c: c[0])[1]

    def explain(self, reference: str | Reference) -> str:
        """Why ``reference`` matches no entry, in one sentence."""
        ref = _parse(reference)
        if ref is None:
            return f"{reference} is not a valid image reference"
        entries = self.for_repository(ref.name)
        if not entries:
            return f"repository {ref.name} is not in the catalog"
        ids = ", ".join(e.id for e in entries)
        if ref.digest and any(e.digests or any(v.digests for v in e.variants) for e in entries):
            return f"digest {ref.digest} is not pinned by catalog entry {ids}"
        if ref.tag is None:
            return f"{ref} is pinned by digest only and entry {ids} pins no digests"
        allowed = sorted(
            {t for e in entries for t in (*e.tags, *(t for v in e.variants for t in v.tags))}
        )
        shown = ", ".join(allowed) or "none"
        return f"tag {ref.tag} is not allowed by catalog entry {ids} (allowed: {shown})"

    def exception_for(self, reference: str | Reference, on: date) -> CatalogException | None:
        """The live exception covering ``reference`` on ``on`` (the latest-expiring one)."""
        ref = _parse(reference)
        if ref is None:
            return None
        live = [x for x in self.exceptions if x.live(on) and x.matches(ref)]
        return max(live, key=lambda x: (x.expires, x.id)) if live else None

    def expired_exception_for(
        self, reference: str | Reference, on: date
    ) -> CatalogException | None:
        """The most recently expired exception that would have covered ``reference``."""
        ref = _parse(reference)
        if ref is None:
            return None
        gone = [x for x in self.exceptions if x.expires < on and x.matches(ref)]
        return max(gone, key=lambda x: (x.expires, x.id)) if gone else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "entries": [e.to_dict() for e in self.entries],
            "exceptions": [x.to_dict() for x in self.exceptions],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Catalog:
        """Build and check a catalog; raises :class:`CatalogValidationError`."""
        r = _Reader(data, (), ("version", "entries", "exceptions"))
        version = r.raw("version")
        if version is None:
            raise CatalogValidationError(("version",), f"is required (version: {CATALOG_VERSION})")
        if type(version) is not int or version != CATALOG_VERSION:
            raise CatalogValidationError(
                ("version",),
                f"{version!r} is not a catalog version this baseguard reads "
                f"(it reads version {CATALOG_VERSION})",
            )
        entries = tuple(
            CatalogEntry.from_dict(item, ("entries", i))
            for i, item in enumerate(r.list_("entries"))
        )
        exceptions = tuple(
            CatalogException.from_dict(item, ("exceptions", i))
            for i, item in enumerate(r.list_("exceptions"))
        )
        _check_unique([e.id for e in entries], "entries", "entry")
        _check_unique([x.id for x in exceptions], "exceptions", "exception")
        ids = {e.id for e in entries}
        for i, entry in enumerate(entries):
            if entry.replaced_by is not None and entry.replaced_by not in ids:
                raise CatalogValidationError(
                    ("entries", i, "replaced_by"), f"no entry has id {entry.replaced_by!r}"
                )
        # Two entries of one repository may not claim the same tag or digest.
        claimed: dict[tuple[str, str], str] = {}
        for i, entry in enumerate(entries):
            values = (
                *entry.tags,
                *entry.digests,
                *(x for v in entry.variants for x in (*v.tags, *v.digests)),
            )
            for value in values:
                other = claimed.setdefault((entry.repository, value), entry.id)
                if other != entry.id:
                    raise CatalogValidationError(
                        ("entries", i),
                        f"{entry.repository} {value!r} is already claimed by entry {other!r}",
                    )
        return cls(version=CATALOG_VERSION, entries=entries, exceptions=exceptions)


def _check_unique(ids: list[str], key: str, what: str) -> None:
    for i, value in enumerate(ids):
        if value in ids[:i]:
            raise CatalogValidationError((key, i, "id"), f"duplicate {what} id {value!r}")


def _parse(reference: str | Reference) -> Reference | None:
    if isinstance(reference, Reference):
        return reference
    try:
        return parse_reference(reference)
    except BaseguardError:
        return None


def _slot_match(
    ref: Reference, tags: tuple[str, ...], digests: tuple[str, ...]
) -> tuple[str, bool] | None:
    if ref.digest is not None:
        if ref.digest in digests:
            return ("digest", True)
        if digests:
            return None  # a digest pinned elsewhere than the catalog's pins is another image
    if ref.tag is None:
        return None
    exact = ref.tag in tags
    if exact:
        return ("tag", True)
    if any(is_glob(t) and _tag_matches(t, ref.tag) for t in tags):
        return ("tag", False)
    return None
