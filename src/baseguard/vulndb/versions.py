"""Version comparison per ecosystem and OSV range containment.

Each OSV ecosystem orders its versions its own way (apk, deb, rpm, PEP 440, SemVer for
npm/crates.io/Go, Maven, RubyGems, NuGet). :func:`compare` orders two versions of one
*scheme*; :func:`is_affected` evaluates an :class:`~baseguard.vulndb.model.Affected` the
way the OSV schema's "Evaluation" pseudo-code does. deb, rpm, PEP 440, RubyGems and NuGet go
through univers (AboutCode); where univers is wrong we correct or replace it, and every
correction is pinned by a case in ``tests/data/versions`` and checked against the
ecosystem's own tool (dpkg, apk, rpm, Maven, node-semver, Go) in the tests:

- **deb**: only univers' ``<`` is used; its ``==`` compares the text, so ``2.033`` and
  ``2.33`` (equal for dpkg) were neither ``<``, ``>`` nor ``==``.
- **apk** is our own port of apk-tools 2.14's ``version.c``: univers reuses Gentoo's
  algorithm, which rejects real Alpine versions (``_git``/``_cvs``/``_svn``/``_hg``
  suffixes, leading zeros such as ``006``) and says ``1.0 == 1.0-r0`` where apk says ``<``.
- **SemVer** (npm, crates.io, Go, OSV ``SEMVER`` ranges): build metadata is ignored, as
  SemVer 2.0 item 10 requires (univers makes ``1.0.0+a`` neither ``<``, ``>`` nor ``==``
  ``1.0.0+b``; Go's ``+incompatible`` is such metadata); four numeric components are
  refused instead of read as ``1.2.3+4``; Go's ``go1.21.3`` toolchain spelling is accepted.
- **Maven** is our own port of maven-artifact 3.8's ``ComparableVersion``: univers' older
  pymaven algorithm lacks ``.X == -X`` (``1.0.RC1 == 1.0-rc1``) and the ``release`` alias,
  and is not transitive on real versions.
- univers' NuGet raises a non-``ValueError`` on some inputs; any parse failure here is a
  :class:`VersionError` naming the version and scheme.

Parsed versions are cached: the matcher compares one installed version with many events.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable
from typing import Any, Protocol

from univers import versions as uv

from baseguard.errors import BaseguardError
from baseguard.vulndb.model import FIXED, INTRODUCED, LAST_AFFECTED, LIMIT, Affected, Range

__all__ = [
    "SCHEMES",
    "VersionError",
    "compare",
    "fixed_versions",
    "is_affected",
    "scheme_for_ecosystem",
]


class VersionError(BaseguardError):
    """A version string is not valid in its scheme, or a scheme/ecosystem is unknown.

    ``version`` and ``scheme`` name the culprit so the matcher can turn the error into a
    warning about one package instead of failing the scan.
    """

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        version: str | None = None,
        scheme: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.version = version
        self.scheme = scheme


#: Every scheme :func:`compare` accepts.
SCHEMES: frozenset[str] = frozenset(
    {"apk", "deb", "rpm", "pypi", "npm", "semver", "golang", "maven", "cargo", "gem", "nuget"}
)

#: OSV ecosystem name (the part before the first ``:``, lower-cased) → scheme.
_ECOSYSTEM_SCHEMES: dict[str, str] = {
    "alpine": "apk",
    "wolfi": "apk",
    "chainguard": "apk",
    "minimos": "apk",
    "alpaquita": "apk",
    "bellsoft hardened containers": "apk",
    "debian": "deb",
    "ubuntu": "deb",
    "red hat": "rpm",
    "almalinux": "rpm",
    "rocky linux": "rpm",
    "opensuse": "rpm",
    "suse": "rpm",
    "mageia": "rpm",
    "photon os": "rpm",
    "openeuler": "rpm",
    "pypi": "pypi",
    "npm": "npm",
    "go": "golang",
    "maven": "maven",
    "crates.io": "cargo",
    "rubygems": "gem",
    "nuget": "nuget",
}


def scheme_for_ecosystem(ecosystem: str) -> str:
    """The version scheme of an OSV ecosystem: ``Alpine:v3.20`` → ``apk``, ``PyPI`` → ``pypi``.

    The release suffix (``:v3.20``, ``:12``, ``:22.04:LTS``, a Maven repository URL) does not
    change the ordering and is ignored; ``Root:<ecosystem>`` uses the inner ecosystem's
    scheme. An ecosystem we cannot order raises :class:`VersionError` rather than guess.
    """
    name, _, rest = ecosystem.strip().partition(":")
    key = name.strip().lower()
    if key == "root" and rest:
        return scheme_for_ecosystem(rest)
    try:
        return _ECOSYSTEM_SCHEMES[key]
    except KeyError:
        raise VersionError(
            f"no version scheme for ecosystem {ecosystem!r}",
            hint="known: " + ", ".join(sorted({k for k in _ECOSYSTEM_SCHEMES})),
        ) from None


# --------------------------------------------------------------------------- comparison


class _Ordered(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


def compare(scheme: str, a: str, b: str) -> int:
    """-1, 0 or 1 as version ``a`` sorts before, equal to or after ``b`` in ``scheme``.

    Raises :class:`VersionError` naming the version when either is invalid in the scheme.
    """
    return _cmp_keys(_parse(scheme, a), _parse(scheme, b))


def _cmp_keys(x: _Ordered, y: _Ordered) -> int:
    # Only "<" is trusted: univers' Debian versions are "==" only when spelled alike
    # (2.033 != 2.33 although dpkg and univers' own "<" agree they are equal).
    if x < y:
        return -1
    return 1 if y < x else 0


def _parse(scheme: str, version: str) -> _Ordered:
    result = _parse_cached(scheme, version)
    if isinstance(result, VersionError):
        # A fresh exception each time: re-raising the cached one would grow its traceback.
        raise VersionError(
            result.message, result.hint, version=result.version, scheme=result.scheme
        )
    return result


@functools.lru_cache(maxsize=1 << 16)
def _parse_cached(scheme: str, version: str) -> _Ordered | VersionError:
    # Errors are cached too: an invalid installed version is met once per advisory.
    parser = _PARSERS.get(scheme)
    if parser is None:
        return VersionError(
            f"unknown version scheme {scheme!r}",
            hint="one of: " + ", ".join(sorted(SCHEMES)),
            scheme=scheme,
        )
    if not isinstance(version, str) or not version.strip():
        return VersionError(f"empty {scheme} version", version=str(version), scheme=scheme)
    text = version.strip()
    if any(c.isspace() for c in text):
        # univers would silently delete inner spaces ("1.0 2" -> "1.02").
        return _invalid(scheme, version, "contains whitespace")
    try:
        return parser(text)
    except VersionError as exc:
        return exc.with_traceback(None)
    except Exception as exc:  # univers raises assorted types (NuGet's is no ValueError)
        return _invalid(scheme, version, str(exc))


def _invalid(scheme: str, version: str, why: str = "") -> VersionError:
    detail = f": {why}" if why and version not in why else ""
    return VersionError(
        f"{version!r} is not a valid {scheme} version{detail}",
        hint="the package or advisory carries a version its ecosystem does not define",
        version=version,
        scheme=scheme,
    )


# --- apk: apk-tools 2.x version.c, token by token ------------------------------------------

# Token types, in apk-tools' order (the order decides who is "longer" at the end).
_T_INVALID, _T_DIGIT_OR_ZERO, _T_DIGIT, _T_LETTER = -1, 0, 1, 2
_T_SUFFIX, _T_SUFFIX_NO, _T_REVISION_NO, _T_END = 3, 4, 5, 6
_APK_PRE_SUFFIXES = ("alpha", "beta", "pre", "rc")
_APK_POST_SUFFIXES = ("cvs", "svn", "git", "hg", "p")


def _isdigit(c: str) -> bool:
    return "0" <= c <= "9"


def _apk_next_type(prev: int, s: str, i: int) -> tuple[int, int]:
    """Type of the token starting at ``s[i]`` after a token of type ``prev``; new index."""
    if i >= len(s):
        return _T_END, i
    c = s[i]
    if prev in (_T_DIGIT, _T_DIGIT_OR_ZERO) and "a" <= c <= "z":
        n = _T_LETTER
    elif prev == _T_LETTER and _isdigit(c):
        n = _T_DIGIT
    elif prev == _T_SUFFIX and _isdigit(c):
        n = _T_SUFFIX_NO
    else:
        n = _T_INVALID
        if c == ".":
            n = _T_DIGIT_OR_ZERO
        elif c == "_":
            n = _T_SUFFIX
        elif c == "-" and i + 1 < len(s) and s[i + 1] == "r":
            n = _T_REVISION_NO
            i += 1
        i += 1
    if n < prev and not (
        (n == _T_DIGIT_OR_ZERO and prev == _T_DIGIT)
        or (n == _T_SUFFIX and prev == _T_SUFFIX_NO)
        or (n == _T_DIGIT and prev == _T_LETTER)
    ):
        n = _T_INVALID
    return n, i


def _apk_suffix(s: str, i: int) -> tuple[int, int] | None:
    """Value and length of the suffix name at ``s[i]``: pre-release ones are negative."""
    for n, name in enumerate(_APK_PRE_SUFFIXES):
        if s.startswith(name, i):
            return n - len(_APK_PRE_SUFFIXES), len(name)
    for n, name in enumerate(_APK_POST_SUFFIXES):
        if s.startswith(name, i):
            return n, len(name)
    return None


def _apk_tokens(s: str) -> tuple[tuple[int, int], ...]:
    """(value, type of the next token) steps, as apk's ``get_token`` yields them."""
    steps: list[tuple[int, int]] = []
    kind, i = _T_DIGIT, 0
    while kind not in (_T_END, _T_INVALID):
        if i >= len(s):
            steps.append((0, _T_END))
            break
        v, j, nt = 0, i, _T_INVALID
        if kind == _T_DIGIT_OR_ZERO and s[j] == "0":
            # Zeros leading a part after a dot: all but the last one make a token worth
            # minus their count, then the digits are read as usual ("1.05" < "1.5",
            # "1.00" < "1.0"). Inferred from apk 2.14.4; its test data pins it.
            while j + 1 < len(s) and s[j + 1] == "0":
                j += 1
            v, nt = -(j - i), _T_DIGIT
        elif kind in (_T_DIGIT_OR_ZERO, _T_DIGIT, _T_SUFFIX_NO, _T_REVISION_NO):
            while j < len(s) and _isdigit(s[j]):
                v = v * 10 + int(s[j])
                j += 1
        elif kind == _T_LETTER:
            v, j = ord(s[j]), j + 1
        else:  # _T_SUFFIX
            suffix = _apk_suffix(s, j)
            if suffix is None:
                steps.append((-1, _T_INVALID))
                break
            v, j = suffix[0], j + suffix[1]
        i = j
        if i >= len(s):
            kind = _T_END
        elif nt != _T_INVALID:
            kind = nt
        else:
            kind, i = _apk_next_type(kind, s, i)
        steps.append((v, kind))
    return tuple(steps)


class _ApkVersion:
    """An Alpine/Wolfi package version ordered exactly as ``apk version -t`` orders it."""

    __slots__ = ("steps",)

    def __init__(self, version: str) -> None:
        steps = _apk_tokens(version)
        if not steps or steps[-1][1] != _T_END:
            raise _invalid("apk", version)
        self.steps = steps

    def _cmp(self, other: _ApkVersion) -> int:
        a, b = self.steps, other.steps
        at = bt = _T_DIGIT
        av = bv = 0
        i = 0
        while at == bt and at not in (_T_END, _T_INVALID) and av == bv:
            av, at = a[i]
            bv, bt = b[i]
            i += 1
        if av != bv:
            return -1 if av < bv else 1
        if at == bt:
            return 0
        # Equal so far and one goes on: the longer one is newer unless what follows is a
        # pre-release suffix (_alpha, _beta, _pre, _rc), whose value is negative.
        if at == _T_SUFFIX and a[i][0] < 0:
            return -1
        if bt == _T_SUFFIX and b[i][0] < 0:
            return 1
        if at > bt:
            return -1
        if bt > at:
            return 1
        return 0

    def __lt__(self, other: Any, /) -> bool:
        return isinstance(other, _ApkVersion) and self._cmp(other) < 0

    def __eq__(self, other: object, /) -> bool:
        return isinstance(other, _ApkVersion) and self._cmp(other) == 0

    def __hash__(self) -> int:  # pragma: no cover - keys are not hashed, but stay hashable
        return hash(tuple(v for v, _ in self.steps))


# --- SemVer family ---------------------------------------------------------------------------

_SEMVER_RE = re.compile(
    r"^v?(?P<core>\d+(?:\.\d+){0,2})"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)

_GO_TOOLCHAIN_RE = re.compile(r"^go(\d+\.\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?$")


def _semver_parser(scheme: str) -> Callable[[str], _Ordered]:
    def parse(version: str) -> _Ordered:
        text = version
        if scheme == "golang":
            toolchain = _GO_TOOLCHAIN_RE.match(text)
            if toolchain:  # the Go toolchain's own form: go1.21.3, go1.22rc1
                major_minor, patch, stage, stage_number = toolchain.groups()
                text = f"{major_minor}.{patch or 0}" + (f"-{stage}.{stage_number}" if stage else "")
        m = _SEMVER_RE.match(text)
        if m is None:
            raise _invalid(scheme, version, "not a semantic version")
        # Build metadata does not take part in precedence (SemVer 2.0, item 10).
        core = m.group("core")
        pre = m.group("pre")
        value = uv.SemverVersion(core + (f"-{pre}" if pre else "")).value
        return _SemverKey(value)

    return parse


class _SemverKey:
    """semantic_version's precedence, with build metadata already dropped."""

    __slots__ = ("key",)

    def __init__(self, value: Any) -> None:
        self.key = value.precedence_key

    def __lt__(self, other: Any, /) -> bool:
        return bool(self.key < other.key)

    def __eq__(self, other: object, /) -> bool:
        return isinstance(other, _SemverKey) and bool(self.key == other.key)

    def __hash__(self) -> int:  # pragma: no cover
        return hash(self.key)


# --- Maven ---------------------------------------------------------------------------------
# Maven's own ComparableVersion (maven-artifact 3.8), item by item. univers carries an older
# pymaven algorithm that misses ".X is -X" (MNG-5568: 1.0.RC1 == 1.0-rc1), the "release"
# alias and MNG-6964, and is not even transitive on real versions.

_MAVEN_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_MAVEN_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_MAVEN_RELEASE = str(_MAVEN_QUALIFIERS.index(""))
_MAVEN_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}

# An item is an int (a number), a str (a qualifier's comparable key) or a list (a sub-list).
_MavenItem = int | str | list[Any]


def _maven_qualifier(text: str, followed_by_digit: bool = False) -> str:
    if followed_by_digit and len(text) == 1:
        text = _MAVEN_SHORT.get(text, text)  # a1 = alpha-1, b1 = beta-1, m1 = milestone-1
    text = _MAVEN_ALIASES.get(text, text)
    if text in _MAVEN_QUALIFIERS:
        return str(_MAVEN_QUALIFIERS.index(text))
    return f"{len(_MAVEN_QUALIFIERS)}-{text}"  # unknown: after the known ones, by text


def _maven_is_null(item: _MavenItem) -> bool:
    if isinstance(item, int):
        return item == 0
    if isinstance(item, str):
        return item == _MAVEN_RELEASE
    return not item


def _maven_items(version: str) -> list[_MavenItem]:
    text = version.lower()
    items: list[_MavenItem] = []
    current = items
    stack = [items]

    def sublist() -> None:
        nonlocal current
        new: list[_MavenItem] = []
        current.append(new)
        current = new
        stack.append(new)

    def parse(digits: bool, buf: str) -> _MavenItem:
        return int(buf) if digits else _maven_qualifier(buf)

    is_digit, start = False, 0
    for i, c in enumerate(text):
        if c in ".-":
            current.append(0 if i == start else parse(is_digit, text[start:i]))
            start = i + 1
            if c == "-":
                sublist()
        elif "0" <= c <= "9":
            if not is_digit and i > start:
                if current:  # ".X1" is "-X1"
                    sublist()
                current.append(_maven_qualifier(text[start:i], followed_by_digit=True))
                start = i
                sublist()
            is_digit = True
        else:
            if is_digit and i > start:
                current.append(int(text[start:i]))
                start = i
                sublist()
            is_digit = False
    if len(text) > start:
        if not is_digit and current:  # ".X" is "-X"
            sublist()
        current.append(parse(is_digit, text[start:]))
    while stack:  # drop trailing nulls (0, "", ga, final, empty lists), innermost first
        items_list = stack.pop()
        for i in range(len(items_list) - 1, -1, -1):
            if _maven_is_null(items_list[i]):
                del items_list[i]
            elif not isinstance(items_list[i], list):
                break
    return items


def _maven_cmp(a: _MavenItem, b: _MavenItem | None) -> int:
    if isinstance(a, int):
        if b is None:
            return 0 if a == 0 else 1
        if isinstance(b, int):
            return (a > b) - (a < b)
        return 1  # 1.1 > 1-sp, 1.1 > 1-1
    if isinstance(a, str):
        if b is None:
            return (a > _MAVEN_RELEASE) - (a < _MAVEN_RELEASE)
        if isinstance(b, str):
            return (a > b) - (a < b)
        return -1  # 1.any < 1.1, 1.any < 1-1
    if b is None:  # MNG-6964: the whole list against nothing
        return next((r for r in (_maven_cmp(x, None) for x in a) if r), 0)
    if isinstance(b, int):
        return -1  # 1-1 < 1.0.x
    if isinstance(b, str):
        return 1  # 1-1 > 1-sp
    for i in range(max(len(a), len(b))):
        left = a[i] if i < len(a) else None
        right = b[i] if i < len(b) else None
        if left is None:
            result = 0 if right is None else -_maven_cmp(right, None)
        else:
            result = _maven_cmp(left, right)
        if result:
            return result
    return 0


class _MavenVersion:
    __slots__ = ("items",)

    def __init__(self, version: str) -> None:
        if not any(c.isalnum() for c in version):
            raise _invalid("maven", version)
        self.items = _maven_items(version)

    def __lt__(self, other: Any, /) -> bool:
        return _maven_cmp(self.items, other.items) < 0

    def __eq__(self, other: object, /) -> bool:
        return isinstance(other, _MavenVersion) and _maven_cmp(self.items, other.items) == 0

    def __hash__(self) -> int:  # pragma: no cover
        return hash(repr(self.items))


# --- the others, straight through univers ----------------------------------------------------


def _through_univers(scheme: str, cls: Any) -> Callable[[str], _Ordered]:
    def parse(version: str) -> _Ordered:
        try:
            parsed = cls(version)
        except uv.InvalidVersion:
            raise _invalid(scheme, version) from None
        return parsed.value  # type: ignore[no-any-return]

    return parse


def _parse_deb(version: str) -> _Ordered:
    # dpkg requires the upstream part to start with a digit and a non-empty revision after
    # a hyphen; univers would also strip a leading "v", which Debian does not.
    upstream = version.partition(":")[2] if ":" in version else version
    if not upstream[:1].isdigit():
        raise _invalid("deb", version, "the upstream version must start with a digit")
    if version.endswith("-"):
        raise _invalid("deb", version, "the revision after '-' is empty")
    parsed = _through_univers("deb", uv.DebianVersion)(version)
    return _DebKey(parsed)


class _DebKey:
    """dpkg's order as a tuple, built once per version from univers' epoch/upstream/revision.

    univers' own comparison is right but slow (~25 us); the matcher compares one installed
    version with many events, so the work is done once here and each comparison is a tuple
    comparison.
    """

    __slots__ = ("key",)

    def __init__(self, parsed: Any) -> None:
        self.key = (int(parsed.epoch), _deb_part(parsed.upstream), _deb_part(parsed.revision))

    def __lt__(self, other: Any, /) -> bool:
        return bool(self.key < other.key)


def _deb_weight(c: str) -> int:
    # deb-version(7): "~" before everything, even the end; letters before non-letters.
    if c == "~":
        return -1
    return ord(c) if c.isalpha() else ord(c) + 256


def _deb_part(text: str) -> tuple[Any, ...]:
    """Alternating non-digit runs (weights, then 0 for "end of run") and numbers."""
    out: list[Any] = []
    i = 0
    while True:
        j = i
        while j < len(text) and not _isdigit(text[j]):
            j += 1
        out.append((*(_deb_weight(c) for c in text[i:j]), 0))
        k = j
        while k < len(text) and _isdigit(text[k]):
            k += 1
        out.append(int(text[j:k] or 0))
        i = k
        if i >= len(text):
            # What follows the end compares as an empty run: after "~", before anything.
            out.append((0,))
            return tuple(out)


def _parse_rpm(version: str) -> _Ordered:
    epoch, colon, rest = version.partition(":")
    if colon and not epoch.isdigit():
        raise _invalid("rpm", version, "the epoch must be a number")
    if not (rest if colon else version):
        raise _invalid("rpm", version)
    return _through_univers("rpm", uv.RpmVersion)(version)


_PARSERS: dict[str, Callable[[str], _Ordered]] = {
    "apk": _ApkVersion,
    "deb": _parse_deb,
    "rpm": _parse_rpm,
    "pypi": _through_univers("pypi", uv.PypiVersion),
    "npm": _semver_parser("npm"),
    "semver": _semver_parser("semver"),
    "cargo": _semver_parser("cargo"),
    "golang": _semver_parser("golang"),
    "maven": _MavenVersion,
    "gem": _through_univers("gem", uv.RubygemsVersion),
    "nuget": _through_univers("nuget", uv.NugetVersion),
}
assert set(_PARSERS) == SCHEMES


# --------------------------------------------------------------------------- OSV ranges


# Sentinels for the OSV special values: introduced "0" is before every version, a limit
# containing "*" is after every version. Neither is parsed (in SemVer, "0" would be
# 0.0.0, after 0.0.0-alpha).
class _Bound(enum.Enum):
    BOTTOM = "introduced 0"
    TOP = "limit *"


_Event = _Ordered | _Bound
#: At equal versions the opening event is applied first, so introduced X + fixed X is empty.
_KIND_ORDER = {INTRODUCED: 0, LAST_AFFECTED: 1, FIXED: 2, LIMIT: 3}


_SEMVER_SCHEMES = frozenset({"semver", "npm", "cargo", "golang"})


def is_affected(scheme: str, version: str, affected: Affected) -> bool:
    """Whether ``version`` is affected, by the OSV schema's evaluation rules.

    A version listed in ``affected.versions`` is affected; otherwise each ECOSYSTEM range
    (ordered by ``scheme``) or SEMVER range (ordered by SemVer whatever the ecosystem) is
    walked in version order: ``introduced`` opens, ``fixed`` closes (exclusive),
    ``last_affected`` closes (inclusive), and with ``limit`` events the version must also
    be below one of the limits. GIT ranges are skipped. ``not_affected`` is not looked at:
    it is for the matcher to weigh. Raises :class:`VersionError` when ``version`` or a
    range event is invalid in the scheme the range is ordered by.
    """
    if version in affected.versions:
        return True
    if affected.versions:
        key = _parse(scheme, version)
        for listed in affected.versions:
            other = _parse_cached(scheme, listed)
            # Lists may hold upstream tags that do not parse; those only match exactly.
            if not isinstance(other, VersionError) and _cmp_keys(key, other) == 0:
                return True
    for rng in affected.ranges:
        kind = rng.type.upper()
        if kind == "ECOSYSTEM":
            range_scheme = scheme
        elif kind == "SEMVER":
            # npm, crates.io and Go are SemVer already (and their parsers accept their own
            # spellings, e.g. go1.21.3); any other ecosystem's SEMVER range means SemVer.
            range_scheme = scheme if scheme in _SEMVER_SCHEMES else "semver"
        else:  # GIT needs the repository's commit graph; unknown types are not ours to guess
            continue
        if _in_range(range_scheme, version, rng, affected):
            return True
    return False


def _in_range(scheme: str, version: str, rng: Range, affected: Affected) -> bool:
    key = _parse(scheme, version)
    events: list[tuple[str, _Event]] = []
    for kind, value in rng.events:
        if kind not in _KIND_ORDER:
            continue
        events.append((kind, _event_key(scheme, kind, value, affected)))
    limits = [k for kind, k in events if kind == LIMIT]
    if limits and not any(_cmp_event(key, limit) < 0 for limit in limits):
        return False
    ordered = sorted(events, key=functools.cmp_to_key(_cmp_timeline))
    vulnerable = False
    for kind, event in ordered:
        c = _cmp_event(key, event)
        if kind == INTRODUCED and c >= 0:
            vulnerable = True
        elif (kind == FIXED and c >= 0) or (kind == LAST_AFFECTED and c > 0):
            vulnerable = False
    return vulnerable


def _event_key(scheme: str, kind: str, value: str, affected: Affected) -> _Event:
    if kind == INTRODUCED and value.strip() == "0":
        return _Bound.BOTTOM
    if kind == LIMIT and "*" in value:
        return _Bound.TOP
    parsed = _parse_cached(scheme, value)
    if isinstance(parsed, VersionError):
        raise VersionError(
            f"{affected.package} ({affected.ecosystem}): range event {kind} {value!r} "
            f"is not a valid {scheme} version",
            hint="the advisory's range cannot be evaluated; the advisory may be malformed",
            version=value,
            scheme=scheme,
        )
    return parsed


def _cmp_event(key: _Ordered, event: _Event) -> int:
    """Compare a parsed version with an event (which may be a sentinel)."""
    if event is _Bound.BOTTOM:
        return 1
    if event is _Bound.TOP:
        return -1
    assert not isinstance(event, _Bound)
    return _cmp_keys(key, event)


def _cmp_timeline(x: tuple[str, _Event], y: tuple[str, _Event]) -> int:
    """Order of the OSV timeline: by version, and at one version opening events first."""
    return _cmp_events(x[1], y[1]) or _KIND_ORDER[x[0]] - _KIND_ORDER[y[0]]


def _cmp_events(x: _Event, y: _Event) -> int:
    if x is y:
        return 0
    if x is _Bound.BOTTOM or y is _Bound.TOP:
        return -1
    if y is _Bound.BOTTOM or x is _Bound.TOP:
        return 1
    assert not isinstance(x, _Bound) and not isinstance(y, _Bound)
    return _cmp_keys(x, y)


def _cmp_first(x: tuple[_Ordered, str], y: tuple[_Ordered, str]) -> int:
    return _cmp_keys(x[0], y[0])


def fixed_versions(affected: Affected) -> list[str]:
    """The versions of ``fixed`` events, for "fixed in" display: unique, lowest first.

    Sorted in the ecosystem's order when every one parses, otherwise in the order the
    advisory gives them. GIT ranges (commit hashes) are left out.
    """
    found: list[tuple[str, str]] = []
    for rng in affected.ranges:
        kind = rng.type.upper()
        if kind not in ("ECOSYSTEM", "SEMVER"):
            continue
        for event, value in rng.events:
            if event == FIXED and value not in (v for _, v in found):
                found.append(("semver" if kind == "SEMVER" else "", value))
    if not found:
        return []
    try:
        eco_scheme = scheme_for_ecosystem(affected.ecosystem)
        schemes = {s or eco_scheme for s, _ in found}
        if len(schemes) == 1:
            (scheme,) = schemes
            parsed = [(_parse(scheme, v), v) for _, v in found]
            parsed.sort(key=functools.cmp_to_key(_cmp_first))
            return [v for _, v in parsed]
    except VersionError:
        pass
    return [v for _, v in found]
