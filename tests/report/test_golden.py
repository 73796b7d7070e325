"""Each format's output for one known result, compared with a golden file beside this test.

Regenerate after an intended change with ``BASEGUARD_UPDATE_GOLDEN=1 pytest tests/report`` and
review the diff. The tool version is redacted; times are fixed by the sample (``NOW``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from baseguard import __version__
from baseguard.report.base import SCAN_FORMATS, RenderOptions, scan_format
from tests.report.test_scan_formats import sample_result

GOLDEN = Path(__file__).parent / "golden"
SUFFIX = {
    "table": "txt",
    "json": "json",
    "sarif": "sarif",
    "cyclonedx-vex": "cdx.json",
    "markdown": "md",
}


def redact(text: str) -> str:
    return re.sub(rf'"{re.escape(__version__)}"', '"VERSION"', text)


@pytest.mark.parametrize("name", sorted(SCAN_FORMATS))
def test_output_matches_the_golden_file(name: str) -> None:
    text = redact(
        scan_format(name).render(sample_result(), RenderOptions(show_suppressed=True, width=160))
    )
    path = GOLDEN / f"scan.{SUFFIX[name]}"
    structured = SUFFIX[name].endswith(("json", "sarif"))
    if os.environ.get("BASEGUARD_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(json.loads(text), indent=2) + "\n" if structured else text)
    assert path.exists(), f"no golden file {path}; run with BASEGUARD_UPDATE_GOLDEN=1"
    if structured:  # stored indented for readable diffs; compared as data
        assert json.loads(text) == json.loads(path.read_text())
    else:
        assert text == path.read_text()
