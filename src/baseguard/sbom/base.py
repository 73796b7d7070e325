"""The SBOM format family: the small interface every writer implements, its error, and the
helpers the CycloneDX and SPDX writers (and the reader) share.

Writers are plain ``dict`` → ``json`` code, not the official object models: start-up time
and speed are targets (see docs/sbom.md). The official libraries validate our output in
the tests instead.
"""

from __future__ import annotations

import dataclasses
import json
import json.encoder
import re
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from baseguard.analysis.distro import Distro
from baseguard.analysis.hardening import Facts
from baseguard.errors import BaseguardError

if TYPE_CHECKING:
    from baseguard.analysis.analyze import Analysis, ImageIdentity
    from baseguard.analysis.packages import Package


class SbomError(BaseguardError):
    """An SBOM could not be written or read: unknown format, malformed, too large, hostile."""


class SbomFormat(ABC):
    """One output format of ``baseguard sbom``; registered by :attr:`name` in ``SBOM_FORMATS``."""

    #: Registry key and the ``-o`` choice.
    name: ClassVar[str]
    #: IANA media type of the document (for HTTP responses and OCI attestations).
    media_type: ClassVar[str]
    #: Conventional file-name suffix.
    suffix: ClassVar[str] = ".json"

    @abstractmethod
    def write(self, analysis: Analysis, *, now: datetime, serial: str | None = None) -> str:
        """The document for ``analysis`` as text.

        ``now`` is the document's creation time and ``serial`` its UUID (random when None);
        both are parameters so that tests can produce byte-identical output.
        """


# -- names of our own properties and annotations ------------------------------------------

NS = "baseguard:"
IMAGE_NS = "baseguard:image:"
DISTRO_NS = "baseguard:distro:"
FACTS_NS = "baseguard:facts:"
PACKAGE_NS = "baseguard:package:"
ANALYZED_AT = "baseguard:analyzedAt"
ISSUE_NS = "baseguard:issue:"
WARNING_NS = "baseguard:warning:"

#: Derived counts written beside the fact lists for people and policies; not read back.
FACT_COUNTS = ("setuid_files", "setgid_files", "world_writable")

TOOL_NAME = "baseguard"


# -- time, serials ---------------------------------------------------------------------------


def timestamp(now: datetime) -> str:
    """``2024-09-06T12:00:00Z``: UTC, whole seconds (the form both specs and spdx-tools accept)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def document_uuid(serial: str | None) -> str:
    """A canonical UUID string: ``serial`` (with or without ``urn:uuid:``) or a random one."""
    if serial is None:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(serial.removeprefix("urn:uuid:")))
    except ValueError:
        raise SbomError(
            f"SBOM serial {serial!r} is not a UUID",
            hint="pass a UUID such as 3e671687-395b-41f5-a30f-a58921a69b79, or none",
        ) from None


# -- output ------------------------------------------------------------------------------------


def render_json(value: Any, *, expand: int = 4) -> str:
    """Pretty JSON, fast: the outer ``expand`` levels are indented by two spaces, deeper
    values are written on one line by the C encoder. (``json.dumps(indent=2)`` uses the
    pure-Python encoder and takes three times as long on a 5000-package SBOM.)"""
    parts: list[str] = []
    _render(value, 0, expand, parts)
    parts.append("\n")
    return "".join(parts)


_encode = json.JSONEncoder(ensure_ascii=False).encode
#: Compact, key-sorted JSON for values inside properties and annotations.
compact_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_encode_str = json.encoder.encode_basestring


def _render(value: Any, level: int, expand: int, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_encode_str(value))
        return
    if level >= expand or not value or not isinstance(value, dict | list):
        out.append(_encode(value))
        return
    pad = "\n" + "  " * (level + 1)
    first = True
    if isinstance(value, dict):
        out.append("{")
        for key, item in value.items():
            out.append(pad if first else "," + pad)
            first = False
            out.append(_encode_str(key))
            out.append(": ")
            _render(item, level + 1, expand, out)
        out.append("\n" + "  " * level + "}")
    else:
        out.append("[")
        for item in value:
            out.append(pad if first else "," + pad)
            first = False
            _render(item, level + 1, expand, out)
        out.append("\n" + "  " * level + "]")


# -- identifiers -------------------------------------------------------------------------------


def image_purl(image: ImageIdentity) -> str | None:
    """``pkg:oci/<name>@<digest>?arch=…&repository_url=…&tag=…`` when the image has a
    registry name and a manifest digest (the purl spec's ``oci`` type), else None."""
    from baseguard.analysis.packages import make_purl

    if not image.name or not image.manifest_digest:
        return None
    qualifiers = {"repository_url": image.name}
    if image.platform:
        parts = image.platform.split("/")
        if len(parts) > 1:
            qualifiers["arch"] = parts[1]
    if image.source == "registry":
        from baseguard.errors import InvalidReferenceError
        from baseguard.refs import parse_reference

        try:
            tag = parse_reference(image.reference).tag
        except InvalidReferenceError:
            tag = None
        if tag:
            qualifiers["tag"] = tag
    name = image.name.rsplit("/", 1)[-1].lower()
    return make_purl("oci", name, image.manifest_digest, qualifiers=qualifiers)


def image_ref(image: ImageIdentity) -> str:
    """The image's ``bom-ref``: its purl, else a baseguard URN of its digest or reference."""
    return image_purl(image) or f"baseguard:image/{image.manifest_digest or image.reference}"


def os_ref(distro: Distro) -> str:
    return f"baseguard:os/{distro.id}@{distro.version_id or distro.version or ''}"


def package_refs(packages: list[Package]) -> list[str]:
    """Unique, stable ``bom-ref`` per package: the purl; for a purl that occurs more than
    once, ``purl|first-location`` (and ``|2``, ``|3``… if even that repeats)."""
    bases = [p.purl or f"baseguard:package/{p.type}/{p.name}@{p.version}" for p in packages]
    counts = Counter(bases)
    seen: set[str] = set()
    refs: list[str] = []
    for package, base in zip(packages, bases, strict=True):
        ref = base
        if counts[base] > 1:
            ref = f"{base}|{package.locations[0] if package.locations else ''}"
        refs.append(unique_id(ref, seen, "|"))
    return refs


def unique_id(base: str, seen: set[str], sep: str) -> str:
    """``base``, else ``base<sep>2``, ``base<sep>3``…: the first not in ``seen`` (and add it)."""
    candidate, n = base, 2
    while candidate in seen:
        candidate, n = f"{base}{sep}{n}", n + 1
    seen.add(candidate)
    return candidate


def dependency_edges(packages: list[Package]) -> list[list[int]]:
    """For each package, the indexes of the packages it depends on: its ``depends`` names
    resolved to packages of the same type (every package of that name); others dropped."""
    by_name: dict[tuple[str, str], list[int]] = {}
    for i, p in enumerate(packages):
        by_name.setdefault((p.type, p.name), []).append(i)
    edges: list[list[int]] = []
    for i, p in enumerate(packages):
        targets: set[int] = set()
        for dep in p.depends:
            targets.update(j for j in by_name.get((p.type, dep), ()) if j != i)
        edges.append(sorted(targets))
    return edges


def top_level(edges: list[list[int]]) -> list[int]:
    """Packages no other package depends on, plus one entry point into every dependency
    cycle that such roots do not reach, so every package hangs off the image."""
    n = len(edges)
    has_parent = [False] * n
    for targets in edges:
        for j in targets:
            has_parent[j] = True
    tops = [i for i in range(n) if not has_parent[i]]
    reached: set[int] = set()

    def reach(start: int) -> None:
        stack = [start]
        while stack:
            i = stack.pop()
            if i in reached:
                continue
            reached.add(i)
            stack.extend(edges[i])

    for i in tops:
        reach(i)
    for i in range(n):
        if i not in reached:
            tops.append(i)
            reach(i)
    return sorted(tops)


# -- licenses ----------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"\(|\)|[^\s()]+")
_LICENSE_REF_RE = re.compile(r"(?:DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+")
_NOT_IDSTRING = re.compile(r"[^A-Za-z0-9.-]+")
_MAX_EXPRESSION = 4096
_MAX_DEPTH = 32


def is_license_id(text: str) -> bool:
    """True for an SPDX license identifier that both the CycloneDX 1.6 schema and spdx-tools
    accept (exact case)."""
    return text in SPDX_LICENSE_IDS


def is_license_expression(text: str) -> bool:
    """True if ``text`` is a valid SPDX license expression over known identifiers and
    ``LicenseRef-``s (operators AND, OR, WITH in upper case; parentheses)."""
    if not text or len(text) > _MAX_EXPRESSION:
        return False
    tokens = _TOKEN_RE.findall(text)
    pos = 0

    def license_term() -> bool:
        nonlocal pos
        if pos >= len(tokens):
            return False
        tok = tokens[pos]
        pos += 1
        if _LICENSE_REF_RE.fullmatch(tok):
            return True
        # ``id+`` only where the list has it (GPL-2.0+…): spdx-tools rejects others (OpenSSL+)
        return tok in SPDX_LICENSE_IDS

    def primary(depth: int) -> bool:
        nonlocal pos
        if depth > _MAX_DEPTH:
            return False
        if pos < len(tokens) and tokens[pos] == "(":
            pos += 1
            if not disjunction(depth + 1) or pos >= len(tokens) or tokens[pos] != ")":
                return False
            pos += 1
            return True
        if not license_term():
            return False
        if pos < len(tokens) and tokens[pos] == "WITH":
            pos += 1
            if pos >= len(tokens) or tokens[pos] not in SPDX_EXCEPTION_IDS:
                return False
            pos += 1
        return True

    def conjunction(depth: int) -> bool:
        nonlocal pos
        if not primary(depth):
            return False
        while pos < len(tokens) and tokens[pos] == "AND":
            pos += 1
            if not primary(depth):
                return False
        return True

    def disjunction(depth: int) -> bool:
        nonlocal pos
        if not conjunction(depth):
            return False
        while pos < len(tokens) and tokens[pos] == "OR":
            pos += 1
            if not conjunction(depth):
                return False
        return True

    return disjunction(0) and pos == len(tokens)


def license_kind(text: str) -> str:
    """``"id"`` (a listed SPDX id), ``"expression"`` (any other valid SPDX expression,
    including a lone ``LicenseRef-``) or ``"text"`` (free text such as ``GPLv2+``)."""
    if is_license_id(text):
        return "id"
    if is_license_expression(text):
        return "expression"
    return "text"


def license_refs(texts: set[str]) -> dict[str, str]:
    """A ``LicenseRef-…`` id for each free-text license, unique within one document and
    stable (assigned in sorted order)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for text in sorted(texts):
        out[text] = unique_id("LicenseRef-" + (idstring(text) or "unknown"), used, "-")
    return out


def idstring(text: str) -> str:
    """``text`` with each run of characters outside SPDX's ``[A-Za-z0-9.-]`` made one ``-``,
    and no ``-`` at either end."""
    return _NOT_IDSTRING.sub("-", text).strip("-")


def spdx_expression(licenses: list[str], refs: dict[str, str]) -> str | None:
    """One SPDX expression for a package's license list (``AND`` of the entries; free text
    replaced by its ``LicenseRef-``), or None for no licenses."""
    parts: list[str] = []
    for text in licenses:
        kind = license_kind(text)
        if kind == "text":
            part = refs[text]
        elif kind == "expression" and len(licenses) > 1 and len(_TOKEN_RE.findall(text)) > 1:
            part = f"({text})"
        else:
            part = text
        if part not in parts:
            parts.append(part)
    return " AND ".join(parts) if parts else None


# -- facts and distro as flat properties -----------------------------------------------------


def encode_value(value: Any) -> str | None:
    """A property value: strings as they are, booleans ``true``/``false``, numbers in decimal,
    lists and dicts as compact JSON; None is no property."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    return compact_json(value)


def _kind_of(annotation: Any) -> str:
    text = str(annotation)
    for kind in ("bool", "int", "str"):
        if text == kind or text.startswith(f"{kind} |") or text == f"<class '{kind}'>":
            return kind
    return "json"


#: How each :class:`Facts` field is spelled as a property value (from its type annotation,
#: so a new field needs no change here).
FACT_KINDS: dict[str, str] = {f.name: _kind_of(f.type) for f in dataclasses.fields(Facts)}


def facts_properties(facts: Facts) -> list[tuple[str, str]]:
    """``baseguard:facts:<field>`` properties for every non-None fact, plus counts."""
    data = facts.to_dict()
    out: list[tuple[str, str]] = []
    for key, value in data.items():
        encoded = encode_value(value)
        if encoded is not None:
            out.append((FACTS_NS + key, encoded))
    out.extend((f"{FACTS_NS}{key}_count", str(len(data[key]))) for key in FACT_COUNTS)
    return out


def facts_from_properties(props: dict[str, str]) -> Facts | None:
    """Read back :func:`facts_properties`; None when the document has no facts."""
    values = {k[len(FACTS_NS) :]: v for k, v in props.items() if k.startswith(FACTS_NS)}
    if not values:
        return None
    data: dict[str, Any] = {}
    for key, kind in FACT_KINDS.items():
        if key not in values:
            continue
        raw = values[key]
        if kind == "bool":
            data[key] = raw == "true"
        elif kind == "int":
            data[key] = int(raw)
        elif kind == "str":
            data[key] = raw
        else:
            data[key] = json.loads(raw)
    return Facts.from_dict(data)


def distro_properties(distro: Distro) -> list[tuple[str, str]]:
    """``baseguard:distro:<field>`` properties (``id_like`` space-separated, as in os-release)."""
    out: list[tuple[str, str]] = []
    for key, value in distro.to_dict().items():
        if key == "display" or value is None:
            continue
        if key == "id_like":
            if value:
                out.append((DISTRO_NS + key, " ".join(value)))
            continue
        out.append((DISTRO_NS + key, str(value)))
    return out


def distro_from_properties(props: dict[str, str]) -> Distro | None:
    values = {k[len(DISTRO_NS) :]: v for k, v in props.items() if k.startswith(DISTRO_NS)}
    if not values:
        return None
    data: dict[str, Any] = dict(values)
    data["id_like"] = values.get("id_like", "").split()
    return Distro.from_dict(data)


# -- SPDX license list -------------------------------------------------------------------------
# The identifiers in the SPDX enum of the CycloneDX 1.6 schema (as bundled with
# cyclonedx-python-lib 11) that spdx-tools 0.8 also accepts, split into licenses and
# exceptions; tests/sbom/test_licenses.py checks this list against both libraries. An id
# that is missing here is still written correctly, as free text (name / LicenseRef-).

_LICENSE_IDS_TEXT = """
    0BSD 3D-Slicer-1.0 AAL Abstyles AdaCore-doc Adobe-2006 Adobe-Display-PostScript Adobe-Glyph
    Adobe-Utopia ADSL AFL-1.1 AFL-1.2 AFL-2.0 AFL-2.1 AFL-3.0 Afmparse AGPL-1.0 AGPL-1.0-only
    AGPL-1.0-or-later AGPL-3.0 AGPL-3.0-only AGPL-3.0-or-later Aladdin AMD-newlib AMDPLPA AML
    AML-glslang AMPAS ANTLR-PD ANTLR-PD-fallback any-OSI any-OSI-perl-modules Apache-1.0
    Apache-1.1 Apache-2.0 APAFML APL-1.0 App-s2p APSL-1.0 APSL-1.1 APSL-1.2 APSL-2.0 Arphic-1999
    Artistic-1.0 Artistic-1.0-cl8 Artistic-1.0-Perl Artistic-2.0 Artistic-dist Aspell-RU
    ASWF-Digital-Assets-1.0 ASWF-Digital-Assets-1.1 Baekmuk Bahyph Barr bcrypt-Solar-Designer
    Beerware Bitstream-Charter Bitstream-Vera BitTorrent-1.0 BitTorrent-1.1 blessing
    BlueOak-1.0.0 Boehm-GC Boehm-GC-without-fee Borceux Brian-Gladman-2-Clause
    Brian-Gladman-3-Clause BSD-1-Clause BSD-2-Clause BSD-2-Clause-Darwin
    BSD-2-Clause-first-lines BSD-2-Clause-FreeBSD BSD-2-Clause-NetBSD BSD-2-Clause-Patent
    BSD-2-Clause-pkgconf-disclaimer BSD-2-Clause-Views BSD-3-Clause BSD-3-Clause-acpica
    BSD-3-Clause-Attribution BSD-3-Clause-Clear BSD-3-Clause-flex BSD-3-Clause-HP
    BSD-3-Clause-LBNL BSD-3-Clause-Modification BSD-3-Clause-No-Military-License
    BSD-3-Clause-No-Nuclear-License BSD-3-Clause-No-Nuclear-License-2014
    BSD-3-Clause-No-Nuclear-Warranty BSD-3-Clause-Open-MPI BSD-3-Clause-Sun BSD-4-Clause
    BSD-4-Clause-Shortened BSD-4-Clause-UC BSD-4.3RENO BSD-4.3TAHOE
    BSD-Advertising-Acknowledgement BSD-Attribution-HPND-disclaimer BSD-Inferno-Nettverk
    BSD-Protection BSD-Source-beginning-file BSD-Source-Code BSD-Systemics BSD-Systemics-W3Works
    BSL-1.0 BUSL-1.1 bzip2-1.0.5 bzip2-1.0.6 C-UDA-1.0 CAL-1.0 CAL-1.0-Combined-Work-Exception
    Caldera Caldera-no-preamble Catharon CATOSL-1.1 CC-BY-1.0 CC-BY-2.0 CC-BY-2.5 CC-BY-2.5-AU
    CC-BY-3.0 CC-BY-3.0-AT CC-BY-3.0-AU CC-BY-3.0-DE CC-BY-3.0-IGO CC-BY-3.0-NL CC-BY-3.0-US
    CC-BY-4.0 CC-BY-NC-1.0 CC-BY-NC-2.0 CC-BY-NC-2.5 CC-BY-NC-3.0 CC-BY-NC-3.0-DE CC-BY-NC-4.0
    CC-BY-NC-ND-1.0 CC-BY-NC-ND-2.0 CC-BY-NC-ND-2.5 CC-BY-NC-ND-3.0 CC-BY-NC-ND-3.0-DE
    CC-BY-NC-ND-3.0-IGO CC-BY-NC-ND-4.0 CC-BY-NC-SA-1.0 CC-BY-NC-SA-2.0 CC-BY-NC-SA-2.0-DE
    CC-BY-NC-SA-2.0-FR CC-BY-NC-SA-2.0-UK CC-BY-NC-SA-2.5 CC-BY-NC-SA-3.0 CC-BY-NC-SA-3.0-DE
    CC-BY-NC-SA-3.0-IGO CC-BY-NC-SA-4.0 CC-BY-ND-1.0 CC-BY-ND-2.0 CC-BY-ND-2.5 CC-BY-ND-3.0
    CC-BY-ND-3.0-DE CC-BY-ND-4.0 CC-BY-SA-1.0 CC-BY-SA-2.0 CC-BY-SA-2.0-UK CC-BY-SA-2.1-JP
    CC-BY-SA-2.5 CC-BY-SA-3.0 CC-BY-SA-3.0-AT CC-BY-SA-3.0-DE CC-BY-SA-3.0-IGO CC-BY-SA-4.0
    CC-PDDC CC-PDM-1.0 CC-SA-1.0 CC0-1.0 CDDL-1.0 CDDL-1.1 CDL-1.0 CDLA-Permissive-1.0
    CDLA-Permissive-2.0 CDLA-Sharing-1.0 CECILL-1.0 CECILL-1.1 CECILL-2.0 CECILL-2.1 CECILL-B
    CECILL-C CERN-OHL-1.1 CERN-OHL-1.2 CERN-OHL-P-2.0 CERN-OHL-S-2.0 CERN-OHL-W-2.0 CFITSIO
    check-cvs checkmk ClArtistic Clips CMU-Mach CMU-Mach-nodoc CNRI-Jython CNRI-Python
    CNRI-Python-GPL-Compatible COIL-1.0 Community-Spec-1.0 Condor-1.1 copyleft-next-0.3.0
    copyleft-next-0.3.1 Cornell-Lossless-JPEG CPAL-1.0 CPL-1.0 CPOL-1.02 Cronyx Crossword
    CryptoSwift CrystalStacker CUA-OPL-1.0 Cube curl cve-tou D-FSL-1.0 DEC-3-Clause diffmark
    DL-DE-BY-2.0 DL-DE-ZERO-2.0 DOC DocBook-DTD DocBook-Schema DocBook-Stylesheet DocBook-XML
    Dotseqn DRL-1.0 DRL-1.1 DSDP dtoa dvipdfm ECL-1.0 ECL-2.0 EFL-1.0 EFL-2.0 eGenix Elastic-2.0
    Entessa EPICS EPL-1.0 EPL-2.0 ErlPL-1.1 etalab-2.0 EUDatagrid EUPL-1.0 EUPL-1.1 EUPL-1.2
    Eurosym Fair FBM FDK-AAC Ferguson-Twofish Frameworx-1.0 FreeBSD-DOC FreeImage FSFAP
    FSFAP-no-warranty-disclaimer FSFUL FSFULLR FSFULLRSD FSFULLRWD FSL-1.1-ALv2 FSL-1.1-MIT FTL
    Furuseth fwlw Game-Programming-Gems GCR-docs GD generic-xts GFDL-1.1
    GFDL-1.1-invariants-only GFDL-1.1-invariants-or-later GFDL-1.1-no-invariants-only
    GFDL-1.1-no-invariants-or-later GFDL-1.1-only GFDL-1.1-or-later GFDL-1.2
    GFDL-1.2-invariants-only GFDL-1.2-invariants-or-later GFDL-1.2-no-invariants-only
    GFDL-1.2-no-invariants-or-later GFDL-1.2-only GFDL-1.2-or-later GFDL-1.3
    GFDL-1.3-invariants-only GFDL-1.3-invariants-or-later GFDL-1.3-no-invariants-only
    GFDL-1.3-no-invariants-or-later GFDL-1.3-only GFDL-1.3-or-later Giftware GL2PS Glide Glulxe
    GLWTPL gnuplot GPL-1.0 GPL-1.0+ GPL-1.0-only GPL-1.0-or-later GPL-2.0 GPL-2.0+ GPL-2.0-only
    GPL-2.0-or-later GPL-3.0 GPL-3.0+ GPL-3.0-only GPL-3.0-or-later Graphics-Gems gSOAP-1.3b
    gtkbook Gutmann HaskellReport HDF5 hdparm HIDAPI Hippocratic-2.1 HP-1986 HP-1989 HPND
    HPND-DEC HPND-doc HPND-doc-sell HPND-export-US HPND-export-US-acknowledgement
    HPND-export-US-modify HPND-export2-US HPND-Fenneberg-Livingston HPND-INRIA-IMAG HPND-Intel
    HPND-Kevlin-Henney HPND-Markus-Kuhn HPND-merchantability-variant HPND-MIT-disclaimer
    HPND-Netrek HPND-Pbmplus HPND-sell-MIT-disclaimer-xserver HPND-sell-regexpr
    HPND-sell-variant HPND-sell-variant-MIT-disclaimer HPND-sell-variant-MIT-disclaimer-rev
    HPND-UC HPND-UC-export-US HTMLTIDY IBM-pibs ICU IEC-Code-Components-EULA IJG IJG-short
    ImageMagick iMatix Imlib2 Info-ZIP Inner-Net-2.0 InnoSetup Intel Intel-ACPI Interbase-1.0
    IPA IPL-1.0 ISC ISC-Veillard Jam JasPer-2.0 jove JPL-image JPNIC JSON Kastrup Kazlib
    Knuth-CTAN LAL-1.2 LAL-1.3 Latex2e Latex2e-translated-notice Leptonica LGPL-2.0 LGPL-2.0+
    LGPL-2.0-only LGPL-2.0-or-later LGPL-2.1 LGPL-2.1+ LGPL-2.1-only LGPL-2.1-or-later LGPL-3.0
    LGPL-3.0+ LGPL-3.0-only LGPL-3.0-or-later LGPLLR Libpng libpng-1.6.35 libpng-2.0
    libselinux-1.0 libtiff libutil-David-Nugent LiLiQ-P-1.1 LiLiQ-R-1.1 LiLiQ-Rplus-1.1
    Linux-man-pages-1-para Linux-man-pages-copyleft Linux-man-pages-copyleft-2-para
    Linux-man-pages-copyleft-var Linux-OpenIB LOOP LPD-document LPL-1.0 LPL-1.02 LPPL-1.0
    LPPL-1.1 LPPL-1.2 LPPL-1.3a LPPL-1.3c lsof Lucida-Bitmap-Fonts LZMA-SDK-9.11-to-9.20
    LZMA-SDK-9.22 Mackerras-3-Clause Mackerras-3-Clause-acknowledgment magaz mailprio MakeIndex
    man2html Martin-Birgmeier McPhee-slideshow metamail Minpack MIPS MirOS MIT MIT-0
    MIT-advertising MIT-Click MIT-CMU MIT-enna MIT-feh MIT-Festival MIT-Khronos-old
    MIT-Modern-Variant MIT-open-group MIT-testregex MIT-Wu MITNFA MMIXware Motosoto MPEG-SSG
    mpi-permissive mpich2 MPL-1.0 MPL-1.1 MPL-2.0 mplus MS-LPL MS-PL MS-RL MTLL MulanPSL-1.0
    MulanPSL-2.0 Multics Mup NAIST-2003 NASA-1.3 Naumen NBPL-1.0 NCBI-PD NCGL-UK-2.0 NCL NCSA
    Net-SNMP NetCDF Newsletr NGPL ngrep NICTA-1.0 NIST-PD NIST-PD-fallback NIST-Software
    NLOD-1.0 NLOD-2.0 NLPL Nokia NOSL Noweb NPL-1.0 NPL-1.1 NPOSL-3.0 NRL NTIA-PD NTP NTP-0
    Nunit O-UDA-1.0 OAR OCCT-PL OCLC-2.0 ODbL-1.0 ODC-By-1.0 OFFIS OFL-1.0 OFL-1.0-no-RFN
    OFL-1.0-RFN OFL-1.1 OFL-1.1-no-RFN OFL-1.1-RFN OGC-1.0 OGDL-Taiwan-1.0 OGL-Canada-2.0
    OGL-UK-1.0 OGL-UK-2.0 OGL-UK-3.0 OGTSL OLDAP-1.1 OLDAP-1.2 OLDAP-1.3 OLDAP-1.4 OLDAP-2.0
    OLDAP-2.0.1 OLDAP-2.1 OLDAP-2.2 OLDAP-2.2.1 OLDAP-2.2.2 OLDAP-2.3 OLDAP-2.4 OLDAP-2.5
    OLDAP-2.6 OLDAP-2.7 OLDAP-2.8 OLFL-1.3 OML OpenPBS-2.3 OpenSSL OpenSSL-standalone OpenVision
    OPL-1.0 OPL-UK-3.0 OPUBL-1.0 OSET-PL-2.1 OSL-1.0 OSL-1.1 OSL-2.0 OSL-2.1 OSL-3.0 PADL
    Parity-6.0.0 Parity-7.0.0 PDDL-1.0 PHP-3.0 PHP-3.01 Pixar pkgconf Plexus pnmstitch
    PolyForm-Noncommercial-1.0.0 PolyForm-Small-Business-1.0.0 PostgreSQL PPL PSF-2.0 psfrag
    psutils Python-2.0 Python-2.0.1 python-ldap Qhull QPL-1.0 QPL-1.0-INRIA-2004 radvd Rdisc
    RHeCos-1.1 RPL-1.1 RPL-1.5 RPSL-1.0 RSA-MD RSCPL Ruby Ruby-pty SAX-PD SAX-PD-2.0 Saxpath
    SCEA SchemeReport Sendmail Sendmail-8.23 Sendmail-Open-Source-1.1 SGI-B-1.0 SGI-B-1.1
    SGI-B-2.0 SGI-OpenGL SGP4 SHL-0.5 SHL-0.51 SimPL-2.0 SISSL SISSL-1.2 SL Sleepycat SMAIL-GPL
    SMLNJ SMPPL SNIA snprintf SOFA softSurfer Soundex Spencer-86 Spencer-94 Spencer-99 SPL-1.0
    ssh-keyscan SSH-OpenSSH SSH-short SSLeay-standalone SSPL-1.0 StandardML-NJ SugarCRM-1.1.3
    SUL-1.0 Sun-PPP Sun-PPP-2000 SunPro SWL swrule Symlinks TAPR-OHL-1.0 TCL TCP-wrappers
    TermReadKey TGPPL-1.0 ThirdEye threeparttable TMate TORQUE-1.1 TOSL TPDL TPL-1.0 TrustedQSL
    TTWL TTYP0 TU-Berlin-1.0 TU-Berlin-2.0 Ubuntu-font-1.0 UCAR UCL-1.0 ulem UMich-Merit
    Unicode-3.0 Unicode-DFS-2015 Unicode-DFS-2016 Unicode-TOU UnixCrypt Unlicense
    Unlicense-libtelnet Unlicense-libwhirlpool UPL-1.0 URT-RLE Vim VOSTROM VSL-1.0 W3C
    W3C-19980720 W3C-20150513 w3m Watcom-1.0 Widget-Workshop Wsuipa WTFPL wwl wxWindows X11
    X11-distribute-modifications-variant X11-swapped Xdebug-1.03 Xerox Xfig XFree86-1.1 xinetd
    xkeyboard-config-Zinoviev xlock Xnet xpp XSkat xzoom YPL-1.0 YPL-1.1 Zed Zeeff Zend-2.0
    Zimbra-1.3 Zimbra-1.4 Zlib zlib-acknowledgement ZPL-1.1 ZPL-2.0 ZPL-2.1
"""

_EXCEPTION_IDS_TEXT = """
    389-exception Asterisk-exception Asterisk-linking-protocols-exception Autoconf-exception-2.0
    Autoconf-exception-3.0 Autoconf-exception-generic Autoconf-exception-generic-3.0
    Autoconf-exception-macro Bison-exception-1.24 Bison-exception-2.2 Bootloader-exception
    CGAL-linking-exception Classpath-exception-2.0 CLISP-exception-2.0
    cryptsetup-OpenSSL-exception Digia-Qt-LGPL-exception-1.1 DigiRule-FOSS-exception eCos-2.0
    eCos-exception-2.0 erlang-otp-linking-exception Fawkes-Runtime-exception FLTK-exception
    fmt-exception Font-exception-2.0 freertos-exception-2.0 GCC-exception-2.0
    GCC-exception-2.0-note GCC-exception-3.1 Gmsh-exception GNAT-exception
    GNOME-examples-exception GNU-compiler-exception gnu-javamail-exception
    GPL-2.0-with-autoconf-exception GPL-2.0-with-classpath-exception GPL-2.0-with-font-exception
    GPL-2.0-with-GCC-exception GPL-3.0-389-ds-base-exception GPL-3.0-interface-exception
    GPL-3.0-linking-exception GPL-3.0-linking-source-exception GPL-3.0-with-autoconf-exception
    GPL-3.0-with-GCC-exception GPL-CC-1.0 GStreamer-exception-2005 GStreamer-exception-2008
    harbour-exception i2p-gpl-java-exception Independent-modules-exception
    KiCad-libraries-exception LGPL-3.0-linking-exception libpri-OpenH323-exception
    Libtool-exception Linux-syscall-note LLGPL LLVM-exception LZMA-exception mif-exception
    MPL-2.0-no-copyleft-exception mxml-exception Nokia-Qt-exception-1.1
    OCaml-LGPL-linking-exception OCCT-exception-1.0 OpenJDK-assembly-exception-1.0
    openvpn-openssl-exception PCRE2-exception polyparse-exception
    PS-or-PDF-font-exception-20170817 QPL-1.0-INRIA-2004-exception Qt-GPL-exception-1.0
    Qt-LGPL-exception-1.1 Qwt-exception-1.0 romic-exception RRDtool-FLOSS-exception-2.0
    SANE-exception SHL-2.0 SHL-2.1 stunnel-exception SWI-exception Swift-exception
    Texinfo-exception u-boot-exception-2.0 UBDL-exception Universal-FOSS-exception-1.0
    vsftpd-openssl-exception WxWindows-exception-3.1 x11vnc-openssl-exception
"""

SPDX_LICENSE_IDS: frozenset[str] = frozenset(_LICENSE_IDS_TEXT.split())
SPDX_EXCEPTION_IDS: frozenset[str] = frozenset(_EXCEPTION_IDS_TEXT.split())
