"""The language catalogers are registered and run in a whole analysis of a layered image."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from baseguard.analysis.analyze import analyze
from baseguard.analysis.catalogers import CATALOGERS
from baseguard.analysis.catalogers.golang import GoBinaryCataloger
from baseguard.analysis.catalogers.java import JavaArchiveCataloger
from baseguard.analysis.catalogers.npm import NpmCataloger
from baseguard.analysis.catalogers.python import PythonCataloger
from baseguard.image.write import write_oci_layout
from tests.analysis.langcat.helpers import tar_layer
from tests.analysis.langcat.test_golang import MODINFO, inline_blob, make_elf


def test_registry_names() -> None:
    assert CATALOGERS["python"] is PythonCataloger
    assert CATALOGERS["npm"] is NpmCataloger
    assert CATALOGERS["golang"] is GoBinaryCataloger
    assert CATALOGERS["java"] is JavaArchiveCataloger


def test_analyze_finds_every_language_in_the_layer_that_wrote_it(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "META-INF/maven/org.acme/app/pom.properties",
            "artifactId=app\ngroupId=org.acme\nversion=1.0\n",
        )
    layers = [
        tar_layer(
            tmp_path / "0.tar",
            {"usr/lib/python3/dist-packages/six-1.16.0.egg-info": b"Name: six\nVersion: 1.16.0\n"},
        ),
        tar_layer(
            tmp_path / "1.tar",
            {
                "app/node_modules/left-pad/package.json": json.dumps(
                    {"name": "left-pad", "version": "1.3.0"}
                ).encode()
            },
        ),
        tar_layer(
            tmp_path / "2.tar",
            {
                "usr/local/bin/tool": (make_elf(inline_blob("go1.22.5", MODINFO)), 0o755),
                "opt/app.jar": buf.getvalue(),
            },
        ),
    ]
    write_oci_layout(tmp_path / "layout", layers)
    result = analyze(f"oci:{tmp_path / 'layout'}", now=datetime(2025, 1, 1, tzinfo=UTC))
    assert result.issues == []
    digests = result.image.layer_digests
    got = {(p.cataloger, p.purl): p.layer for p in result.packages}
    assert got[("python", "pkg:pypi/six@1.16.0")] == digests[0]
    assert got[("npm", "pkg:npm/left-pad@1.3.0")] == digests[1]
    assert got[("golang", "pkg:golang/github.com/Acme/tool@v1.4.0")] == digests[2]
    assert got[("golang", "pkg:golang/stdlib@1.22.5")] == digests[2]
    assert got[("java", "pkg:maven/org.acme/app@1.0")] == digests[2]
