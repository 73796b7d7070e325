"""Each output format of the compliance report: JSON golden, HTML, Markdown, and a PDF whose
pages really render (poppler's pdftoppm and pdftotext, Debian poppler-utils)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from baseguard import __version__
from baseguard.report.compliance import ComplianceReport, build_report, render, render_json
from baseguard.report.compliance.frameworks import ARTICLES
from baseguard.store import Store
from tests.report.compliance.estate import NOW

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def report(sqlite_estate: tuple[str, Store]) -> ComplianceReport:
    return build_report(sqlite_estate[1], "all", now=NOW)


def redact(text: str, report: ComplianceReport) -> str:
    text = text.replace(json.dumps(report.store)[1:-1], "STORE")
    return re.sub(rf'"{re.escape(__version__)}"', '"VERSION"', text)


def test_json_matches_the_golden_file(report: ComplianceReport) -> None:
    text = redact(render_json(report), report)
    path = GOLDEN / "report.json"
    if os.environ.get("BASEGUARD_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with BASEGUARD_UPDATE_GOLDEN=1"
    assert json.loads(text) == json.loads(path.read_text())


def test_json_is_the_same_for_the_same_store_and_now(sqlite_estate: tuple[str, Store]) -> None:
    store = sqlite_estate[1]
    first = render_json(build_report(store, "all", now=NOW))
    assert render_json(build_report(store, "all", now=NOW)) == first


def test_framework_selects_its_articles(sqlite_estate: tuple[str, Store]) -> None:
    store = sqlite_estate[1]
    dora = build_report(store, "dora", now=NOW).to_dict()
    nis2 = build_report(store, "nis2", now=NOW).to_dict()
    assert [a["ref"] for a in dora["articles"]] == [
        "Art. 6",
        "Art. 8",
        "Art. 9",
        "Art. 10",
        "Art. 28",
        "Art. 10",
    ]
    assert [a["ref"] for a in nis2["articles"]] == [
        "Art. 21(2)(a)",
        "Art. 21(2)(d)",
        "Art. 21(2)(e)",
        "Art. 21(2)(h)",
        "Annex 6.6",
        "Annex 6.10",
    ]


def test_html_is_self_contained_and_holds_every_article(report: ComplianceReport) -> None:
    html = render(report, "html")
    assert isinstance(html, str)
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html and "http://" not in html and "https://" not in html
    for article in ARTICLES:
        assert f'id="{article.id}"' in html
        assert article.title in html
        assert article.requirement in html
    assert report.head is not None and report.head in html
    assert "2026-01-15T12:00:00Z" in html
    assert "CVE-2026-1001" in html and "legacy-debian" in html and "EXPIRED" in html


def test_html_escapes_stored_text(sqlite_estate: tuple[str, Store]) -> None:
    store = sqlite_estate[1]
    store.upsert_exception(
        {
            "id": "xss",
            "pattern": "docker.io/library/busybox:1",
            "justification": "<script>alert(1)</script>",
            "approver": "eve",
            "created": "2026-01-01",
            "expires": "2026-02-01",
        },
        "eve",
    )
    html = render(build_report(store, "all", now=NOW), "html")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_markdown_holds_every_article_and_the_head(report: ComplianceReport) -> None:
    md = render(report, "markdown")
    assert isinstance(md, str)
    for article in ARTICLES:
        assert f"## {article.ref}: {article.title}" in md
    assert f"`{report.head}`" in md
    assert "| node | CVE-2026-3000 |" in md


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the grey level of each pixel of an 8-bit greyscale or RGB PNG
    (non-interlaced): a small reader, so the test needs no imaging library."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 1
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (0, 2), "expected 8-bit greyscale or RGB"
            channels = 1 if colour == 0 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    stride = width * channels
    raw, out, prev = zlib.decompress(idat), bytearray(), bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        filt, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if filt == 1:
                line[i] = (line[i] + a) & 255
            elif filt == 2:
                line[i] = (line[i] + b) & 255
            elif filt == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += bytes(min(line[i : i + channels]) for i in range(0, stride, channels))
        prev = line
    return width, height, bytes(out)


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is required under CI (Debian poppler-utils)")
        pytest.skip(f"{tool} not installed (Debian poppler-utils)")
    return found


def test_pdf_first_page_renders_non_blank(report: ComplianceReport, tmp_path: Path) -> None:
    pdftoppm = need("pdftoppm")
    pdf = tmp_path / "report.pdf"
    data = render(report, "pdf")
    assert isinstance(data, bytes) and data.startswith(b"%PDF-")
    pdf.write_bytes(data)
    subprocess.run(
        [
            pdftoppm,
            "-r",
            "50",
            "-gray",
            "-png",
            "-f",
            "1",
            "-singlefile",
            str(pdf),
            str(tmp_path / "page"),
        ],
        check=True,
        timeout=60,
    )
    width, height, pixels = png_pixels((tmp_path / "page.png").read_bytes())
    assert (width, height) == (585, 414)  # A4 landscape at 50 dpi
    dark = sum(1 for p in pixels if p < 128)
    assert 0.005 < dark / len(pixels) < 0.5  # text and rules, not an empty or black page


def test_every_pdf_page_carries_the_time_and_head_hash(
    report: ComplianceReport, tmp_path: Path
) -> None:
    pdftotext = need("pdftotext")
    pdf = tmp_path / "report.pdf"
    data = render(report, "pdf")
    assert isinstance(data, bytes)
    pdf.write_bytes(data)
    text = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    pages = [p for p in text.split("\f") if p.strip()]
    assert len(pages) > 3
    assert "baseguard compliance evidence" in pages[0]
    for page in pages:
        assert f"Generated 2026-01-15T12:00:00Z - audit chain head {report.head}" in page


def test_pdf_is_reproducible(report: ComplianceReport) -> None:
    assert render(report, "pdf") == render(report, "pdf")
