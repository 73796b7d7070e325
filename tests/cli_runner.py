"""Running the ``baseguard`` command in tests, the one way each of two kinds.

``run_baseguard`` starts the real process (``python -m baseguard.cli.main``), as a user runs
it: the real exit code, stdout and stderr apart, a traceback where one would really print.
``invoke_baseguard`` calls the app in this process through typer's CliRunner: quicker, and a
monkeypatch made by the test applies to it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from baseguard.cli.main import app


def run_baseguard(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``baseguard *args`` as a process, its output as text; ``env`` is added to this one's."""
    return subprocess.run(
        [sys.executable, "-m", "baseguard.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def invoke_baseguard(*args: str) -> Result:
    """``baseguard *args`` in this process; ``.stdout`` and ``.stderr`` apart, ``.output`` both."""
    return CliRunner().invoke(app, list(args))
