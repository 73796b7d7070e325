"""Image references as docker and skopeo users write them, parsed and normalised.

``alpine`` means ``docker.io/library/alpine:latest``; ``user/app`` means
``docker.io/user/app:latest``; the first path component is a registry only when it looks like
a host (contains ``.`` or ``:``, is ``localhost``, or is a bracketed IPv6 address). The
grammar follows distribution's ``reference`` package; digests must be ``sha256``/``sha512``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from baseguard.errors import ImageError, InvalidReferenceError
from baseguard.image.model import validate_digest

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_ALIASES = frozenset({DOCKER_HUB, "index.docker.io", DOCKER_HUB_API})
OFFICIAL_NAMESPACE = "library"
DEFAULT_TAG = "latest"
MAX_NAME_LENGTH = 255
#: The longest a valid reference can be once normalised: a 255-character name (which
#: normalising may prefix with ``docker.io/library/``), a 128-character tag and a sha512
#: digest. A longer image string is not a reference.
MAX_REFERENCE_CHARS = (
    MAX_NAME_LENGTH
    + len(f"{DOCKER_HUB}/{OFFICIAL_NAMESPACE}/")
    + len(":")
    + 128  # the longest tag
    + len("@sha512:")
    + 128  # a sha512 digest's hex
)

_DOMAIN_COMPONENT = r"(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])"
_IPV6 = r"\[[a-f0-9:]+\]"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})"
_DOMAIN_RE = re.compile(rf"{_HOST}(?::[0-9]{{1,5}})?")
_PATH_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

_TAG_HINT = (
    "a tag is 1-128 characters of letters, digits, '_', '.' and '-', "
    "and does not start with '.' or '-'"
)
_FORM_HINT = "write it as [REGISTRY/]REPOSITORY[:TAG][@DIGEST], for example alpine:3.20"


def split_host_port(hostport: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` (IPv6 in brackets) into a host without brackets and a port."""
    if hostport.startswith("["):
        end = hostport.find("]")
        host = hostport[1:end] if end > 0 else hostport[1:]
        rest = hostport[end + 1 :] if end > 0 else ""
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    return host, int(port) if port.isdigit() else None


def is_loopback_host(hostport: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1``, with or without a port."""
    text = hostport.lower()
    try:
        return ipaddress.ip_address(text).is_loopback  # a bare address, IPv6 included
    except ValueError:
        pass
    host, _ = split_host_port(text)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _invalid(text: str, problem: str, hint: str = _FORM_HINT) -> InvalidReferenceError:
    return InvalidReferenceError(f"invalid image reference {text!r}: {problem}", hint=hint)


@dataclass(frozen=True)
class Reference:
    """A normalised image reference: registry, repository, and a tag and/or a digest."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """``registry/repository``, the repository's full name."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def familiar(self) -> str:
        """The short form docker prints: ``alpine:3.20``, ``user/app@sha256:…``."""
        name = self.name
        if self.registry == DOCKER_HUB:
            name = self.repository
            prefix = f"{OFFICIAL_NAMESPACE}/"
            if name.startswith(prefix) and "/" not in name[len(prefix) :]:
                name = name[len(prefix) :]
        if self.tag:
            name += f":{self.tag}"
        if self.digest:
            name += f"@{self.digest}"
        return name

    @property
    def api_host(self) -> str:
        """The ``host[:port]`` that serves the registry API (Docker Hub's differs)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def host(self) -> str:
        """The registry host without port or IPv6 brackets."""
        return split_host_port(self.registry)[0]

    @property
    def port(self) -> int | None:
        return split_host_port(self.registry)[1]

    @property
    def is_loopback(self) -> bool:
        """True when the registry is on this machine (localhost, 127.x, ::1)."""
        return is_loopback_host(self.registry)

    @property
    def identifier(self) -> str:
        """What to ask the registry for: the digest when pinned, otherwise the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_digest(self, digest: str) -> Reference:
        """The same reference pinned to ``digest`` (the tag is kept for display)."""
        try:
            validate_digest(digest)
        except ImageError as exc:
            raise InvalidReferenceError(
                f"cannot pin {self} to {digest!r}: {exc.message}", hint=exc.hint
            ) from exc
        return replace(self, digest=digest)

    def with_tag(self, tag: str) -> Reference:
        """The same repository at ``tag``, without a digest."""
        if not _TAG_RE.fullmatch(tag):
            raise _invalid(f"{self.name}:{tag}", f"tag {tag!r} is invalid", _TAG_HINT)
        return replace(self, tag=tag, digest=None)


def parse_reference(text: str) -> Reference:
    """Parse and normalise an image reference, raising :class:`InvalidReferenceError`."""
    if not isinstance(text, str) or not text:
        raise _invalid(str(text), "it is empty")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise _invalid(text, "it contains whitespace or control characters")
    if "://" in text:
        raise _invalid(
            text,
            "it contains a URL scheme",
            hint="drop the http:// or https:// prefix, for example registry.example.com/app:1",
        )

    rest, at, digest = text.partition("@")
    if at:
        if not digest:
            raise _invalid(text, "the digest after '@' is empty")
        if "@" in digest:
            raise _invalid(text, "it contains more than one '@'")
        try:
            validate_digest(digest)
        except ImageError as exc:
            raise _invalid(text, f"digest {digest!r} is invalid", exc.hint or _FORM_HINT) from exc

    tag: str | None = None
    slash, colon = rest.rfind("/"), rest.rfind(":")
    name = rest
    if colon > slash:
        name, tag = rest[:colon], rest[colon + 1 :]
        if not tag:
            raise _invalid(text, "the tag after ':' is empty", _TAG_HINT)
        if not _TAG_RE.fullmatch(tag):
            raise _invalid(text, f"tag {tag!r} is invalid", _TAG_HINT)
    if not name:
        raise _invalid(text, "the repository name is empty")

    first, sep, remainder = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, repository = first.lower(), remainder
        if not _DOMAIN_RE.fullmatch(registry):
            raise _invalid(
                text,
                f"registry {first!r} is not a valid host[:port]",
                hint="a registry is a host name or IP address with an optional :PORT",
            )
    else:
        registry, repository = DOCKER_HUB, name
    if registry in DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
    if not repository:
        raise _invalid(text, "the repository name is empty")
    for component in repository.split("/"):
        if _PATH_COMPONENT_RE.fullmatch(component):
            continue
        if component and _PATH_COMPONENT_RE.fullmatch(component.lower()):
            raise _invalid(
                text,
                "repository names must be lowercase",
                hint=f"write {repository.lower()!r} instead of {repository!r}",
            )
        raise _invalid(
            text,
            f"repository path component {component!r} is invalid",
            hint="path components are lowercase letters and digits, separated by "
            "'.', '_', '__' or '-', and may not be empty",
        )
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"{OFFICIAL_NAMESPACE}/{repository}"
    if len(name) > MAX_NAME_LENGTH:
        raise _invalid(text, f"the name is longer than {MAX_NAME_LENGTH} characters")
    if tag is None and not at:
        tag = DEFAULT_TAG
    return Reference(registry, repository, tag, digest or None)
