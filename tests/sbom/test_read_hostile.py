"""Hostile and broken SBOMs: a clear SbomError naming the file, bounded memory, no traceback."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import tracemalloc
from pathlib import Path

import pytest

from baseguard.errors import BaseguardError
from baseguard.sbom import SbomError
from baseguard.sbom.cyclonedx import CycloneDxJson
from baseguard.sbom.read import parse_sbom, read_sbom
from tests.sbom.builders import NOW, SERIAL, sample_analysis

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1">
  <components><component type="library"><name>&lol9;</name></component></components>
</bom>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1">
  <components><component type="library"><name>&xxe;</name>
  <purl>pkg:apk/alpine/x@1</purl></component></components>
</bom>
"""


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_rejected(path: Path, *words: str) -> SbomError:
    with pytest.raises(SbomError) as info:
        read_sbom(path)
    message = info.value.message
    assert str(path) in message
    for word in words:
        assert word in message
    return info.value


def test_sbom_error_is_a_baseguard_error_with_a_hint() -> None:
    assert issubclass(SbomError, BaseguardError)
    with pytest.raises(SbomError) as info:
        parse_sbom(b"nonsense", name="x.json")
    assert info.value.hint


def test_50_mb_sbom_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.cdx.json"
    with path.open("wb") as fh:  # sparse: 50 MB without writing 50 MB
        fh.write(b'{"bomFormat": "CycloneDX", "components": [')
        fh.truncate(50 << 20)
    tracemalloc.start()
    try:
        assert_rejected(path, "larger than")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_limit_is_configurable(tmp_path: Path) -> None:
    text = CycloneDxJson().write(sample_analysis(), now=NOW, serial=SERIAL).encode()
    path = write(tmp_path, "bom.json", text)
    with pytest.raises(SbomError, match="larger than the 1000 bytes"):
        read_sbom(path, max_bytes=1000)
    assert read_sbom(path, max_bytes=len(text)).packages


def test_bytes_over_the_limit_are_refused() -> None:
    with pytest.raises(SbomError, match="stdin: SBOM is larger"):
        parse_sbom(b" " * 101, name="stdin", max_bytes=100)


def test_deeply_nested_json_is_refused(tmp_path: Path) -> None:
    depth = 100_000
    data = b'{"bomFormat": "CycloneDX", "components": ' + b"[" * depth + b"]" * depth + b"}"
    assert_rejected(write(tmp_path, "deep.json", data), "nested too deeply")


def test_deeply_nested_components_are_refused(tmp_path: Path) -> None:
    comp: dict[str, object] = {"type": "library", "name": "leaf", "purl": "pkg:npm/leaf@1"}
    for i in range(40):
        comp = {"type": "library", "name": f"n{i}", "components": [comp]}
    data = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [comp]})
    assert_rejected(write(tmp_path, "nested.json", data.encode()), "nested more than")


def test_deeply_nested_xml_components_are_refused(tmp_path: Path) -> None:
    inner = '<component type="library"><name>x</name><purl>pkg:npm/x@1</purl></component>'
    for _ in range(40):
        inner = (
            f'<component type="library"><name>n</name><components>{inner}</components></component>'
        )
    data = (
        f'<bom xmlns="http://cyclonedx.org/schema/bom/1.6"><components>{inner}</components></bom>'
    )
    assert_rejected(write(tmp_path, "nested.xml", data.encode()), "nested more than")


def test_xml_billion_laughs_is_refused_quickly_in_bounded_memory(tmp_path: Path) -> None:
    path = write(tmp_path, "lolz.cdx.xml", BILLION_LAUGHS)
    tracemalloc.start()
    try:
        assert_rejected(path, "DOCTYPE")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_xml_external_entity_is_refused(tmp_path: Path) -> None:
    assert_rejected(write(tmp_path, "xxe.cdx.xml", XXE), "DOCTYPE")


def test_malformed_xml_is_refused(tmp_path: Path) -> None:
    assert_rejected(write(tmp_path, "bad.xml", b"<bom><components></bom>"), "invalid XML")


def test_xml_that_is_not_cyclonedx_is_refused(tmp_path: Path) -> None:
    rdf = b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
    assert_rejected(write(tmp_path, "doc.spdx.rdf", rdf), "not a CycloneDX BOM")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", ("unrecognised format",)),
        (b"\xff\xfe\x00garbage", ("UnicodeDecodeError",)),
        (b"[1, 2, 3]", ("JSON array",)),
        (b'{"bomFormat": "CycloneDX", ', ("invalid JSON",)),
        (b'{"hello": "world"}', ("neither CycloneDX",)),
        (b'{"@context": "https://spdx.org/rdf/3.0.0/spdx-context.jsonld"}', ("SPDX 3",)),
        (b'{"spdxVersion": "SPDX-1.2"}', ("not supported",)),
        (b'{"payloadType": "x", "payload": "!!!not base64!!!"}', ("not a readable SBOM",)),
        (
            b'{"schemaVersion": "1", "image": {}, "packages": [{}], "tool": {"name": "baseguard"}}',
            ("packages[0].name is missing",),
        ),
        (b'{"schemaVersion": "1", "image": {}, "packages": []}', ("not baseguard",)),
    ],
)
def test_broken_documents_are_sbom_errors(tmp_path: Path, data: bytes, words: tuple[str]) -> None:
    assert_rejected(write(tmp_path, "doc.json", data), *words)


def test_missing_file_is_an_sbom_error(tmp_path: Path) -> None:
    assert_rejected(tmp_path / "nope.json", "cannot read")


def test_directory_is_an_sbom_error(tmp_path: Path) -> None:
    assert_rejected(tmp_path, "cannot read")


def test_wrong_informational_types_inside_a_cyclonedx_component_do_not_crash() -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "components": [
            {"type": "library", "name": "ok", "purl": "pkg:npm/ok@1", "licenses": [3, {}]},
            {"type": "library", "name": "p", "purl": "pkg:npm/p@1", "evidence": "nope"},
        ],
    }
    analysis = parse_sbom(json.dumps(doc).encode())
    assert sorted(p.name for p in analysis.packages) == ["ok", "p"]
    assert any("components[1].evidence" in w for w in analysis.warnings)


def test_truncated_documents_only_ever_raise_sbom_errors() -> None:
    for fmt_text in (
        CycloneDxJson().write(sample_analysis(), now=NOW, serial=SERIAL),
        BILLION_LAUGHS.decode(),
    ):
        data = fmt_text.encode()
        for end in range(0, len(data), max(1, len(data) // 300)):
            with contextlib.suppress(SbomError):
                parse_sbom(data[:end], name="cut")


def test_a_pipe_is_read_up_to_the_limit_only(tmp_path: Path) -> None:

    fifo = tmp_path / "sbom.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("wb") as fh, contextlib.suppress(BrokenPipeError):
            fh.write(b" " * 5000)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        with pytest.raises(SbomError, match="larger than the 1000 bytes"):
            read_sbom(fifo, max_bytes=1000)
    finally:
        writer.join(timeout=10)


def test_megabytes_of_blank_lines_are_rejected_in_linear_time() -> None:
    with pytest.raises(SbomError, match="unrecognised format"):
        parse_sbom(b"\n \n" * 1_000_000 + b"x", name="blank")


def test_tag_value_after_comments_and_blank_lines_is_recognised() -> None:
    text = b"# made by hand\n\n  \nSPDXVersion: SPDX-2.3\nDocumentName: x\n"
    assert parse_sbom(text, name="tv").packages == []
