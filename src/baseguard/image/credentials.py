"""Registry credentials from docker's ``config.json`` (or a containers ``auth.json``).

Where: ``$REGISTRY_AUTH_FILE`` (a file, as podman/skopeo use) if set, else
``$DOCKER_CONFIG/config.json`` if ``DOCKER_CONFIG`` is set, else ``~/.docker/config.json``.
Only inline credentials are read (``auths`` entries with ``auth``, ``username``/``password`` or
``identitytoken``). Credential helpers (``credHelpers``, ``credsStore``) are external programs;
baseguard does not run them, and records a warning instead.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baseguard.errors import AuthError

DOCKER_HUB_KEYS = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
MAX_CONFIG_BYTES = 4 << 20


class CredentialsConfigError(AuthError):
    """A docker config / auth file could not be read or is malformed."""


@dataclass(frozen=True)
class Credentials:
    """A username and password (or an OAuth2 identity token) for one registry."""

    username: str
    password: str = field(repr=False)
    identity_token: str | None = field(default=None, repr=False)


#: Looks up credentials for a registry (``docker.io`` or ``host[:port]``).
CredentialLookup = Callable[[str], "Credentials | None"]


def normalize_registry_key(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``docker.io``; ``http://Host:5000/`` -> ``host:5000``.

    Keys with a scheme are reduced to their host[:port] (docker's convention); keys without a
    scheme keep any path, which podman uses for repository-scoped credentials.
    """
    text = key.strip()
    lowered = text.lower()
    scheme = ""
    for candidate in ("https://", "http://"):
        if lowered.startswith(candidate):
            scheme = candidate
            text = text[len(candidate) :]
            break
    host, sep, path = text.partition("/")
    host = host.lower()
    if host in DOCKER_HUB_KEYS:
        host = "docker.io"
    path = path.strip("/")
    if scheme or not path or (host == "docker.io" and path in ("v1", "v2")):
        return host
    return f"{host}{sep}{path}"


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """The file credentials are read from, honouring the environment variables above."""
    environ = os.environ if env is None else env
    auth_file = environ.get("REGISTRY_AUTH_FILE")
    if auth_file:
        return Path(auth_file).expanduser()
    docker_dir = environ.get("DOCKER_CONFIG")
    if docker_dir:
        return Path(docker_dir).expanduser() / "config.json"
    home = environ.get("HOME")
    base = Path(home) if home else Path.home()
    return base / ".docker" / "config.json"


@dataclass
class DockerConfig:
    """The inline credentials of one config file, and warnings about what was skipped."""

    path: Path | None = None
    auths: dict[str, Credentials] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    cred_helpers: dict[str, str] = field(default_factory=dict)
    creds_store: str | None = None

    @classmethod
    def load(
        cls, path: Path | None = None, *, env: Mapping[str, str] | None = None
    ) -> DockerConfig:
        """Read ``path`` (default: :func:`default_config_path`); a missing file is empty."""
        explicit = path is not None
        environ = os.environ if env is None else env
        target = path if path is not None else default_config_path(environ)
        if not target.exists():
            config = cls(path=target)
            if explicit or environ.get("REGISTRY_AUTH_FILE") or environ.get("DOCKER_CONFIG"):
                config.warnings.append(f"{target}: no such file; no registry credentials loaded")
            return config
        try:
            with target.open("rb") as fh:
                raw = fh.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise CredentialsConfigError(
                f"{target}: cannot read registry credentials ({exc.strerror or exc})",
                hint="check the file's permissions, or point DOCKER_CONFIG/REGISTRY_AUTH_FILE "
                "elsewhere",
            ) from exc
        if len(raw) > MAX_CONFIG_BYTES:
            raise CredentialsConfigError(f"{target}: larger than {MAX_CONFIG_BYTES} bytes")
        return cls.from_bytes(raw, target)

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path) -> DockerConfig:
        """Parse the JSON of a config file; ``path`` is used in messages."""
        hint = "fix the file (it is JSON written by `docker login`), or log in again"
        try:
            data = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise CredentialsConfigError(f"{path}: not valid JSON ({exc})", hint=hint) from exc
        if not isinstance(data, dict):
            raise CredentialsConfigError(f"{path}: expected a JSON object", hint=hint)
        config = cls(path=path)
        auths = data.get("auths")
        if auths is None:
            auths = {}
        if not isinstance(auths, dict):
            raise CredentialsConfigError(f"{path}: 'auths' is not an object", hint=hint)
        for key, entry in auths.items():
            creds = _parse_entry(path, str(key), entry, hint)
            if creds is not None:
                config.auths[normalize_registry_key(str(key))] = creds
        helpers = data.get("credHelpers")
        if helpers is None:
            helpers = {}
        if not isinstance(helpers, dict):
            raise CredentialsConfigError(f"{path}: 'credHelpers' is not an object", hint=hint)
        for key, helper in sorted(helpers.items()):
            config.cred_helpers[normalize_registry_key(str(key))] = str(helper)
            config.warnings.append(
                f"{path}: credential helper 'docker-credential-{helper}' for {key} is not run; "
                "baseguard reads only inline credentials"
            )
        store = data.get("credsStore")
        if store:
            config.creds_store = str(store)
            config.warnings.append(
                f"{path}: credential store 'docker-credential-{store}' is not run; "
                "baseguard reads only inline credentials (put them in 'auths' or use "
                "REGISTRY_AUTH_FILE)"
            )
        return config

    def lookup(self, registry: str, repository: str | None = None) -> Credentials | None:
        """Credentials for ``registry`` (``docker.io`` or ``host[:port]``), or ``None``.

        With ``repository``, a repository-scoped entry (``host/ns/repo``, longest match) wins
        over the host entry, as in podman's auth.json.
        """
        host = normalize_registry_key(registry)
        if repository:
            parts = repository.split("/")
            for i in range(len(parts), 0, -1):
                scoped = self.auths.get(f"{host}/{'/'.join(parts[:i])}")
                if scoped is not None:
                    return scoped
        return self.auths.get(host)

    def __call__(self, registry: str) -> Credentials | None:
        return self.lookup(registry)


def _parse_entry(path: Path, key: str, entry: Any, hint: str) -> Credentials | None:
    if not isinstance(entry, dict):
        raise CredentialsConfigError(f"{path}: auths[{key!r}] is not an object", hint=hint)
    token = entry.get("identitytoken") or None
    if token is not None and not isinstance(token, str):
        raise CredentialsConfigError(
            f"{path}: auths[{key!r}].identitytoken is not a string", hint=hint
        )
    username, password = entry.get("username"), entry.get("password")
    encoded = entry.get("auth")
    if encoded:
        if not isinstance(encoded, str):
            raise CredentialsConfigError(f"{path}: auths[{key!r}].auth is not a string", hint=hint)
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise CredentialsConfigError(
                f"{path}: auths[{key!r}].auth is not base64 of 'username:password'", hint=hint
            ) from exc
        username, sep, password = decoded.partition(":")
        if not sep:
            raise CredentialsConfigError(
                f"{path}: auths[{key!r}].auth does not decode to 'username:password'",
                hint=hint,
            )
    if username is None and password is None:
        if token:
            return Credentials("<token>", "", identity_token=token)
        return None
    if not isinstance(username, str) or not isinstance(password, str):
        raise CredentialsConfigError(
            f"{path}: auths[{key!r}] username and password must both be strings", hint=hint
        )
    return Credentials(username, password, identity_token=token)


def load_credentials(env: Mapping[str, str] | None = None) -> DockerConfig:
    """The user's docker config, located by :func:`default_config_path`."""
    return DockerConfig.load(env=env)
