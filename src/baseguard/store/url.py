"""Where the store lives: turn what the user typed into a SQLAlchemy URL.

``None`` means ``$BASEGUARD_DB``, else a SQLite file in the user data directory. A bare path
is a SQLite file; ``postgresql://`` (or ``postgres://``, or another PostgreSQL driver) is
served by psycopg 3. Passwords never appear in messages: see :func:`redact`.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from baseguard.store.errors import StoreError

ENV_VAR = "BASEGUARD_DB"
DEFAULT_FILE = "baseguard.sqlite"

#: Schemes read as PostgreSQL (whatever driver they name, psycopg 3 serves them).
_POSTGRES = ("postgresql", "postgres")


def default_path() -> Path:
    """``<user data dir>/baseguard/baseguard.sqlite`` (on Linux ``~/.local/share/…``)."""
    return Path(platformdirs.user_data_dir("baseguard")) / DEFAULT_FILE


def resolve_url(url: str | None = None) -> URL:
    """The SQLAlchemy URL for ``url``, ``$BASEGUARD_DB`` or the default SQLite file."""
    text = url if url is not None else os.environ.get(ENV_VAR) or None
    if text is None:
        return _sqlite(default_path())
    text = text.strip()
    if not text:
        raise StoreError("empty store URL", hint="give a path or a postgresql://… URL")
    if "://" not in text:
        return _sqlite(Path(text))
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise StoreError(
            f"cannot read store URL {redact_text(text)}: {exc}",
            hint="use sqlite:///path/to/file.sqlite, postgresql://user@host/db or a path",
        ) from None
    backend = parsed.get_backend_name()
    if backend in _POSTGRES:
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise StoreError(
                "an in-memory SQLite store is not supported (each connection would see a "
                "different, empty database)",
                hint="give a file: sqlite:///path/to/file.sqlite",
            )
        return _sqlite(Path(parsed.database))
    raise StoreError(
        f"unsupported store URL scheme {parsed.drivername!r}",
        hint="use sqlite:///path/to/file.sqlite, postgresql://user@host/db or a path",
    )


def _sqlite(path: Path) -> URL:
    return URL.create("sqlite", database=str(path.expanduser().absolute()))


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def redact(url: URL) -> str:
    """The URL as text with any password replaced by ``***``."""
    return url.render_as_string(hide_password=True)


def redact_text(text: str) -> str:
    try:
        return redact(make_url(text))
    except ArgumentError:
        return "<unreadable URL>"
