"""Shared fixtures: where the real public data lives, and a skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
REALDATA = Path(os.environ.get("BASEGUARD_REALDATA", PROJECT.parent / "shared" / "realdata"))


def realdata_path(*parts: str) -> Path:
    """A path under ../shared/realdata, or a skip naming what is missing."""
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (../shared/realdata is not present in this checkout)")
    return path


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"needs {REALDATA} (../shared/realdata is not present in this checkout)")
    return REALDATA
