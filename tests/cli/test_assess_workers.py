"""``assess --workers`` must be at least 1, checked when the command line is read.

``--workers 0`` or ``-3`` was accepted and quietly run as one worker (the library clamps
it), so a typo was never reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import run_baseguard


@pytest.mark.parametrize("value", ["0", "-3"])
def test_workers_below_one_is_a_usage_error_naming_the_option(tmp_path: Path, value: str) -> None:
    done = run_baseguard(
        "assess", str(tmp_path), "--db", str(tmp_path / "vulndb.sqlite"), "--workers", value
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "Invalid value for '--workers'" in done.stderr
