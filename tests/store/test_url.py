"""Store URLs: defaults, bare paths, PostgreSQL through psycopg 3, refusals, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from baseguard.store import StoreError, default_path, redact, resolve_url


def test_none_uses_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BASEGUARD_DB", str(tmp_path / "env.sqlite"))
    assert resolve_url(None).database == str(tmp_path / "env.sqlite")


def test_none_without_the_variable_is_the_user_data_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BASEGUARD_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    url = resolve_url(None)
    assert url.drivername == "sqlite"
    assert url.database == str(tmp_path / "baseguard" / "baseguard.sqlite")
    assert default_path() == tmp_path / "baseguard" / "baseguard.sqlite"


def test_a_bare_path_is_an_absolute_sqlite_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    url = resolve_url("rel/store.sqlite")
    assert url.drivername == "sqlite"
    assert url.database == str(tmp_path / "rel" / "store.sqlite")


def test_sqlite_url_is_kept() -> None:
    assert resolve_url("sqlite:////var/lib/bg.sqlite").database == "/var/lib/bg.sqlite"


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://u:pw@db.example:5433/bg",
        "postgres://u:pw@db.example:5433/bg",
        "postgresql+psycopg2://u:pw@db.example:5433/bg",
    ],
)
def test_postgresql_urls_use_psycopg_3(given: str) -> None:
    url = resolve_url(given)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.password) == ("db.example", 5433, "bg", "pw")


@pytest.mark.parametrize("given", ["sqlite://", "sqlite:///:memory:", "mysql://x/y", "  "])
def test_unusable_urls_are_refused_with_a_hint(given: str) -> None:
    with pytest.raises(StoreError) as raised:
        resolve_url(given)
    assert raised.value.hint


def test_redact_hides_the_password() -> None:
    text = redact(resolve_url("postgresql://admin:s3cret@db/bg"))
    assert "s3cret" not in text
    assert "admin:***@db" in text
