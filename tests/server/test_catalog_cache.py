"""The catalog in memory: when it is reloaded, what survives a broken file, what is logged."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from baseguard.server.catalog_cache import CatalogCache, CatalogUnavailableError
from tests.gate.helpers import write_catalog


def test_fresh_answers_from_memory_until_the_file_changes(tmp_path: Path) -> None:
    path = write_catalog(tmp_path / "catalog.yaml")
    cache = CatalogCache(path)
    assert cache.fresh() is None  # nothing loaded yet: get() must load it
    first = cache.get()
    assert cache.fresh() is first
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert cache.fresh() is None
    again = cache.get()
    assert again is first  # same content: re-read and hashed, not re-parsed
    assert cache.reloads == 1


def test_a_recheck_interval_of_zero_rereads_every_time(tmp_path: Path) -> None:
    path = write_catalog(tmp_path / "catalog.yaml")
    cache = CatalogCache(path, recheck=0)
    cache.get()
    assert cache.fresh() is None


def test_a_broken_file_keeps_the_last_good_catalog_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_catalog(tmp_path / "catalog.yaml")
    cache = CatalogCache(path, recheck=0)
    good = cache.get()
    path.write_text("version: 2\n")
    with caplog.at_level(logging.ERROR, logger="baseguard.server"):
        assert cache.get() is good
        assert cache.get() is good
    assert cache.stale
    assert "version" in (cache.error or "")
    assert len([r for r in caplog.records if "last good catalog" in r.getMessage()]) == 1
    status = cache.status()
    assert status["loaded"] and status["stale"] and status["sha256"] == good.sha256


def test_without_any_good_catalog_get_raises_with_the_reason(tmp_path: Path) -> None:
    cache = CatalogCache(tmp_path / "missing.yaml")
    with pytest.raises(CatalogUnavailableError, match="no such catalog file"):
        cache.get()
    assert cache.status()["loaded"] is False
    with pytest.raises(CatalogUnavailableError, match="no catalog file is configured"):
        CatalogCache(None).get()
