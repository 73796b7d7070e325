"""Reading registry credentials from docker config.json / containers auth.json."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from baseguard.errors import AuthError
from baseguard.image.credentials import (
    Credentials,
    CredentialsConfigError,
    DockerConfig,
    default_config_path,
    normalize_registry_key,
)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_default_path_is_home_docker_config(tmp_path: Path) -> None:
    assert default_config_path({"HOME": str(tmp_path)}) == tmp_path / ".docker" / "config.json"


def test_docker_config_env_names_a_directory(tmp_path: Path) -> None:
    env = {"HOME": "/nowhere", "DOCKER_CONFIG": str(tmp_path / "cfg")}
    assert default_config_path(env) == tmp_path / "cfg" / "config.json"


def test_registry_auth_file_wins_over_docker_config(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path / "cfg"), "REGISTRY_AUTH_FILE": str(tmp_path / "a.json")}
    assert default_config_path(env) == tmp_path / "a.json"


def test_load_reads_the_file_docker_config_points_at(tmp_path: Path) -> None:
    _write(tmp_path / "cfg" / "config.json", {"auths": {"ghcr.io": {"auth": _b64("me:secret")}}})
    config = DockerConfig.load(env={"DOCKER_CONFIG": str(tmp_path / "cfg")})
    assert config.lookup("ghcr.io") == Credentials("me", "secret")


def test_load_reads_registry_auth_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "auth.json", {"auths": {"quay.io": {"auth": _b64("q:pw")}}})
    config = DockerConfig.load(env={"REGISTRY_AUTH_FILE": str(path)})
    assert config.lookup("quay.io") == Credentials("q", "pw")


@pytest.mark.parametrize(
    ("key", "registry"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("docker.io", "docker.io"),
        ("https://registry.example.com", "registry.example.com"),
        ("http://registry.example.com:5000/", "registry.example.com:5000"),
        ("https://registry.example.com/v2/", "registry.example.com"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("Registry.Example.com", "registry.example.com"),
    ],
)
def test_auths_keys_match_the_registry_in_any_spelling(key: str, registry: str) -> None:
    config = DockerConfig.from_bytes(
        json.dumps({"auths": {key: {"auth": _b64("u:p")}}}).encode(), Path("config.json")
    )
    assert config.lookup(registry) == Credentials("u", "p")


def test_docker_hub_credentials_are_found_by_api_host_too() -> None:
    config = DockerConfig.from_bytes(
        json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": _b64("u:p")}}}).encode(),
        Path("config.json"),
    )
    assert config.lookup("registry-1.docker.io") == Credentials("u", "p")
    assert config("docker.io") == Credentials("u", "p")


def test_other_hosts_get_no_credentials() -> None:
    config = DockerConfig.from_bytes(
        json.dumps({"auths": {"ghcr.io": {"auth": _b64("u:p")}}}).encode(), Path("c.json")
    )
    assert config.lookup("evil.example.com") is None
    assert config.lookup("ghcr.io:443") is None


def test_username_and_password_fields_are_read() -> None:
    config = DockerConfig.from_bytes(
        json.dumps({"auths": {"r.example": {"username": "a", "password": "b"}}}).encode(),
        Path("c.json"),
    )
    assert config.lookup("r.example") == Credentials("a", "b")


def test_password_may_contain_colons() -> None:
    config = DockerConfig.from_bytes(
        json.dumps({"auths": {"r.example": {"auth": _b64("a:b:c")}}}).encode(), Path("c.json")
    )
    creds = config.lookup("r.example")
    assert creds is not None and (creds.username, creds.password) == ("a", "b:c")


def test_identity_token_is_kept() -> None:
    raw = {"auths": {"r.example": {"auth": _b64("<token>:"), "identitytoken": "refresh-me"}}}
    creds = DockerConfig.from_bytes(json.dumps(raw).encode(), Path("c.json")).lookup("r.example")
    assert creds is not None and creds.identity_token == "refresh-me"


def test_identity_token_alone_is_enough() -> None:
    raw = {"auths": {"r.example": {"identitytoken": "refresh-me"}}}
    creds = DockerConfig.from_bytes(json.dumps(raw).encode(), Path("c.json")).lookup("r.example")
    assert creds is not None and creds.identity_token == "refresh-me"


def test_secrets_are_not_in_repr() -> None:
    text = repr(Credentials("alice", "hunter2", identity_token="tok-123"))
    assert "alice" in text
    assert "hunter2" not in text and "tok-123" not in text


def test_empty_entries_written_by_credential_stores_are_skipped() -> None:
    raw = {"auths": {"ghcr.io": {}}, "credsStore": "desktop"}
    config = DockerConfig.from_bytes(json.dumps(raw).encode(), Path("c.json"))
    assert config.lookup("ghcr.io") is None


def test_creds_store_is_not_run_and_is_reported() -> None:
    raw = {"auths": {}, "credsStore": "osxkeychain"}
    config = DockerConfig.from_bytes(json.dumps(raw).encode(), Path("c.json"))
    assert config.creds_store == "osxkeychain"
    assert any("docker-credential-osxkeychain" in w and "not run" in w for w in config.warnings)


def test_cred_helpers_are_not_run_and_are_reported() -> None:
    raw = {"credHelpers": {"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"}}
    config = DockerConfig.from_bytes(json.dumps(raw).encode(), Path("c.json"))
    assert config.lookup("123.dkr.ecr.eu-west-1.amazonaws.com") is None
    assert config.cred_helpers == {"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"}
    assert any("docker-credential-ecr-login" in w for w in config.warnings)


def test_repository_scoped_entry_wins_for_that_repository() -> None:
    raw = {
        "auths": {
            "quay.io": {"auth": _b64("host:pw")},
            "quay.io/team": {"auth": _b64("team:pw")},
        }
    }
    config = DockerConfig.from_bytes(json.dumps(raw).encode(), Path("c.json"))
    assert config.lookup("quay.io", "team/app") == Credentials("team", "pw")
    assert config.lookup("quay.io", "other/app") == Credentials("host", "pw")
    assert config.lookup("quay.io") == Credentials("host", "pw")


def test_missing_default_file_is_empty_without_warning(tmp_path: Path) -> None:
    config = DockerConfig.load(env={"HOME": str(tmp_path)})
    assert config.auths == {} and config.warnings == []


def test_missing_explicit_file_is_empty_with_a_warning(tmp_path: Path) -> None:
    config = DockerConfig.load(env={"REGISTRY_AUTH_FILE": str(tmp_path / "missing.json")})
    assert config.auths == {}
    assert any("missing.json" in w for w in config.warnings)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"auths": []}', "'auths' is not an object"),
        ('{"auths": {"r.example": "x"}}', "auths['r.example'] is not an object"),
        ('{"auths": {"r.example": {"auth": "%%%"}}}', "is not base64"),
        ('{"auths": {"r.example": {"auth": "' + _b64("nocolon") + '"}}}', "username:password"),
        ('{"auths": {"r.example": {"username": "a"}}}', "must both be strings"),
        ('{"credHelpers": ["x"]}', "'credHelpers' is not an object"),
    ],
)
def test_malformed_config_names_the_file(tmp_path: Path, content: str, problem: str) -> None:
    path = _write(tmp_path / "config.json", content)
    with pytest.raises(CredentialsConfigError) as info:
        DockerConfig.load(path)
    assert str(path) in info.value.message
    assert problem in info.value.message
    assert isinstance(info.value, AuthError)


def test_malformed_config_message_does_not_leak_the_secret(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "config.json", {"auths": {"r.example": {"auth": _b64("nocolonsecret")}}}
    )
    with pytest.raises(CredentialsConfigError) as info:
        DockerConfig.load(path)
    assert "nocolonsecret" not in info.value.message
    assert _b64("nocolonsecret") not in info.value.message


@pytest.mark.parametrize(
    ("key", "normal"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("HTTPS://Quay.IO", "quay.io"),
        ("quay.io/org/", "quay.io/org"),
        ("localhost:5000", "localhost:5000"),
    ],
)
def test_normalize_registry_key(key: str, normal: str) -> None:
    assert normalize_registry_key(key) == normal
