"""`baseguard --help` and `--version` stay fast: the CLI imports no heavy module up front."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "baseguard.analysis",
    "baseguard.image",
    "baseguard.vulndb",
    "baseguard.matching",
    "baseguard.catalog",
    "baseguard.store",
    "sqlalchemy",
    "univers",
    "sigstore",
    "fastapi",
    "httpx",
    "yaml",
)


def test_importing_the_cli_loads_no_engine_module() -> None:
    code = (
        "import sys, baseguard.cli.main\n"
        f"heavy = [m for m in sys.modules if m.startswith({HEAVY!r})]\n"
        "print(','.join(sorted(heavy)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""
