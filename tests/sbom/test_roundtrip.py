"""read(write(a)) == a: an SBOM we write reads back into the same Analysis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from baseguard.analysis.analyze import Analysis
from baseguard.analysis.packages import Package
from baseguard.sbom import SBOM_FORMATS
from baseguard.sbom.native import NativeJson
from baseguard.sbom.read import parse_sbom, read_sbom
from tests.sbom.builders import NOW, SERIAL, sample_analysis, scratch_analysis
from tests.sbom.conftest import check_golden

FORMATS = sorted(SBOM_FORMATS)


def package_fields(p: Package) -> dict[str, Any]:
    data = p.to_dict()
    del data["depends"]  # compared separately: only names that resolve to a package survive
    return data


def resolvable_depends(analysis: Analysis) -> dict[tuple[str, str], list[str]]:
    names = {(p.type, p.name) for p in analysis.packages}
    out: dict[tuple[str, str], list[str]] = {}
    for p in analysis.packages:
        deps = sorted({d for d in p.depends if (p.type, d) in names and d != p.name})
        out[(p.purl, p.locations[0] if p.locations else "")] = deps
    return out


def read_back(analysis: Analysis, fmt: str) -> Analysis:
    text = SBOM_FORMATS[fmt]().write(analysis, now=NOW, serial=SERIAL)
    return parse_sbom(text.encode("utf-8"), name=f"roundtrip.{fmt}")


def assert_same(original: Analysis, back: Analysis) -> None:
    assert back.image == original.image
    assert back.distro == original.distro
    assert back.facts == original.facts
    assert [package_fields(p) for p in back.packages] == [
        package_fields(p) for p in original.packages
    ]
    assert resolvable_depends(back) == resolvable_depends(original)
    assert back.issues == original.issues
    assert back.warnings == original.warnings
    assert back.analyzed_at == original.analyzed_at


@pytest.mark.parametrize("fmt", FORMATS)
def test_sample_round_trips(fmt: str) -> None:
    original = sample_analysis()
    assert_same(original, read_back(original, fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_scratch_round_trips(fmt: str) -> None:
    original = scratch_analysis()
    assert_same(original, read_back(original, fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_demo_image_round_trips(fmt: str, demo_analysis: Analysis) -> None:
    assert_same(demo_analysis, read_back(demo_analysis, fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_through_a_file(fmt: str, tmp_path: Path) -> None:
    original = sample_analysis()
    path = tmp_path / f"sbom{SBOM_FORMATS[fmt].suffix}"
    path.write_text(SBOM_FORMATS[fmt]().write(original, now=NOW, serial=SERIAL), encoding="utf-8")
    assert_same(original, read_sbom(path))


def test_unresolvable_depends_are_dropped_not_invented() -> None:
    back = read_back(sample_analysis(), "cyclonedx-json")
    (busybox,) = [p for p in back.packages if p.name == "busybox"]
    assert busybox.depends == ["musl"]


def test_native_json_matches_golden(fixed_version: str) -> None:
    check_golden("sample.json", NativeJson().write(sample_analysis(), now=NOW))
