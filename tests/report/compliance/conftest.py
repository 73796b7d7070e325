"""Compliance report fixtures: a populated store on SQLite and on a real PostgreSQL.

The PostgreSQL server is the store tests' own (tests/store/pgserver.py, started once per
session, a fresh database per test); without its binaries that half is skipped, except under
CI where it fails (see tests/store/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from baseguard.store import Store, open_store
from tests.report.compliance.estate import populate
from tests.store.builders import StepClock
from tests.store.conftest import pg_server, store_url

__all__ = ["pg_server", "store_url"]


@pytest.fixture
def estate(store_url: str) -> Iterator[Store]:
    """The estate of estate.py in a store of each backend."""
    clock = StepClock()
    with open_store(store_url, clock=clock) as store:
        populate(store, clock)
        yield store


@pytest.fixture
def sqlite_estate(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    """The estate in a SQLite file: (path, store)."""
    path = tmp_path / "estate.sqlite"
    clock = StepClock()
    with open_store(str(path), clock=clock) as store:
        populate(store, clock)
        yield str(path), store
