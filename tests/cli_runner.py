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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal, overload

from click.testing import Result
from typer.testing import CliRunner

from baseguard.cli.main import app


@overload
def run_baseguard(
    *args: str,
    cwd: Path | None = ...,
    env: Mapping[str, str] | None = ...,
    unset: Iterable[str] = ...,
    timeout: float = ...,
    text: Literal[True] = ...,
) -> subprocess.CompletedProcess[str]: ...


@overload
def run_baseguard(
    *args: str,
    cwd: Path | None = ...,
    env: Mapping[str, str] | None = ...,
    unset: Iterable[str] = ...,
    timeout: float = ...,
    text: Literal[False],
) -> subprocess.CompletedProcess[bytes]: ...


def run_baseguard(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    unset: Iterable[str] = (),
    timeout: float = 120,
    text: bool = True,
) -> subprocess.CompletedProcess[str] | subprocess.CompletedProcess[bytes]:
    """``baseguard *args`` as a process; ``env`` is added to this one's, ``unset`` taken out.

    Output is text, or with ``text=False`` the bytes as written (line endings untouched).
    """
    gone = {unset} if isinstance(unset, str) else set(unset)  # one name, not its letters
    merged = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in gone}
    return subprocess.run(
        [sys.executable, "-m", "baseguard.cli.main", *args],
        capture_output=True,
        text=text,
        cwd=cwd,
        env=merged,
        timeout=timeout,
    )


def invoke_baseguard(*args: str) -> Result:
    """``baseguard *args`` in this process; ``.stdout`` and ``.stderr`` apart, ``.output`` both."""
    return CliRunner().invoke(app, list(args))
