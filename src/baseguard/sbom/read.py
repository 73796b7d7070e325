"""Read an SBOM back into an :class:`Analysis`: ours, and third-party CycloneDX and SPDX.

Formats, detected from the content: baseguard's own JSON; CycloneDX JSON and XML
(1.2-1.6); SPDX 2.2/2.3 JSON and tag-value; any of the JSON ones inside an in-toto
statement or a DSSE envelope (one per line in ``.jsonl``; signatures are not checked here).

A component becomes a :class:`Package` when it has a purl (or our own package properties);
the purl gives the type, the document's name and version are kept when they agree with it.
Source package, architecture, layer and locations come from our ``baseguard:package:*``
properties, syft's ``syft:*`` or trivy's ``aquasecurity:trivy:*`` ones, then purl
qualifiers. The distro comes from our properties, the operating-system component, or a
purl's ``distro=`` qualifier. ``facts`` is None unless the document is ours.

SBOMs are untrusted: the file is capped in size (read no further than the cap), XML with
a DOCTYPE is refused (no entity expansion, internal or external), nesting is bounded, and
any malformed input is an :class:`SbomError` that names the file. A document of the wrong
shape is an error, never an empty reading (that would scan clean): an unsupported
``specVersion``/``spdxVersion``, a JSON type other than the schema's for a member that
decides which packages are read (``components``, ``packages``, a purl, properties…),
a control character in tag-value; the message gives the JSON path
(``components[0] is a number, not an object``). Informational fields of the wrong type
(licenses, descriptions) are left out with a warning.

This module holds the size limit, format detection and dispatch. The formats are read by
:mod:`baseguard.sbom.read_cyclonedx` (CycloneDX JSON and XML) and
:mod:`baseguard.sbom.read_spdx` (SPDX JSON and tag-value), which share
:mod:`baseguard.sbom.read_common`.
"""

from __future__ import annotations

import base64
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

from baseguard.analysis.analyze import Analysis
from baseguard.sbom.base import SbomError
from baseguard.sbom.read_common import Malformed
from baseguard.sbom.read_cyclonedx import MAX_NESTING as MAX_NESTING  # re-exported
from baseguard.sbom.read_cyclonedx import cdx_xml_to_dict, from_cyclonedx, parse_xml
from baseguard.sbom.read_native import check_native
from baseguard.sbom.read_spdx import from_spdx, spdx_tag_value

#: Largest SBOM read (bytes); a 10 000-package CycloneDX document is about 15 MB.
MAX_SBOM_BYTES = 32 << 20

_HINT = "pass a CycloneDX (JSON/XML), SPDX 2.x (JSON/tag-value) or baseguard JSON SBOM"


def read_sbom(path: Path, *, max_bytes: int = MAX_SBOM_BYTES) -> Analysis:
    """Read the SBOM at ``path`` (format detected from its content) into an Analysis."""
    label = str(path)
    try:
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if stat.S_ISREG(info.st_mode):
                if info.st_size > max_bytes:
                    raise _too_large(label, max_bytes, info.st_size)
                data = fh.read(info.st_size + 1)  # +1: notice a file that grew meanwhile
            else:  # a pipe or device: read in chunks, stop past the limit
                chunks: list[bytes] = []
                size = 0
                while size <= max_bytes and (chunk := fh.read(1 << 20)):
                    chunks.append(chunk)
                    size += len(chunk)
                data = b"".join(chunks)
    except OSError as exc:
        raise SbomError(
            f"{label}: cannot read SBOM: {exc.strerror or exc}",
            hint="check the path and its permissions",
        ) from None
    return parse_sbom(data, name=label, max_bytes=max_bytes)


def parse_sbom(data: bytes, *, name: str = "<sbom>", max_bytes: int = MAX_SBOM_BYTES) -> Analysis:
    """Parse SBOM bytes (from a file, stdin or an attestation) into an Analysis."""
    if len(data) > max_bytes:
        raise _too_large(name, max_bytes)
    try:
        return _parse(data)
    except Malformed as exc:
        raise SbomError(f"{name}: {exc}", hint=_HINT) from None
    except RecursionError:
        raise SbomError(
            f"{name}: the document is nested too deeply to be an SBOM", hint=_HINT
        ) from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise SbomError(
            f"{name}: not a readable SBOM ({type(exc).__name__}: {exc})", hint=_HINT
        ) from None


def _too_large(name: str, limit: int, size: int | None = None) -> SbomError:
    return SbomError(
        f"{name}: SBOM is larger than the {limit} bytes allowed"
        + (f" ({size} bytes)" if size is not None else ""),
        hint="raise the limit (max_bytes) if this document is genuine",
    )


# -- detection -------------------------------------------------------------------------------


def _is_tag_value(text: str) -> bool:
    """True if the first line that is not blank or a ``#`` comment is ``SPDXVersion:``."""
    for line in io.StringIO(text):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.startswith("SPDXVersion:")
    return False


def _parse(data: bytes) -> Analysis:
    head = data[:256].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return from_cyclonedx(cdx_xml_to_dict(parse_xml(data)))
    text = data.decode("utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            if not exc.msg.startswith("Extra data"):
                raise Malformed(f"invalid JSON: {exc}") from None
            return _from_json_lines(text)
        return _from_json(doc, 0)
    if _is_tag_value(text):
        return from_spdx(spdx_tag_value(text))
    if stripped.startswith("["):
        raise Malformed("a JSON array is not an SBOM document")
    raise Malformed("unrecognised format (not JSON, XML or SPDX tag-value)")


def _from_json_lines(text: str) -> Analysis:
    """JSON Lines (attestation bundles): the first line that holds an SBOM."""
    last: Exception | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            return _from_json(json.loads(line), 0)
        except (Malformed, ValueError, TypeError, KeyError) as exc:
            last = exc
    raise Malformed(f"no line holds an SBOM ({last})")


def _from_json(doc: Any, depth: int) -> Analysis:
    if depth > 2:
        raise Malformed("envelopes nested too deeply")
    if not isinstance(doc, dict):
        raise Malformed("the JSON document is not an object")
    if doc.get("bomFormat") == "CycloneDX":
        return from_cyclonedx(doc)
    if "spdxVersion" in doc:  # the version is checked by from_spdx (tag-value too)
        return from_spdx(doc)
    if "payloadType" in doc and "payload" in doc:  # DSSE envelope
        payload = base64.b64decode(str(doc["payload"]), validate=False)
        return _from_json(json.loads(payload), depth + 1)
    if "_type" in doc and "predicate" in doc:  # in-toto statement
        return _from_json(doc["predicate"], depth + 1)
    if "schemaVersion" in doc and "image" in doc and "packages" in doc:
        return _from_native(doc)
    if "@context" in doc:
        raise Malformed("JSON-LD documents (SPDX 3) are not supported")
    raise Malformed("JSON document is neither CycloneDX, SPDX nor baseguard JSON")


def _from_native(doc: dict[str, Any]) -> Analysis:
    tool = doc.get("tool")
    if not isinstance(tool, dict) or tool.get("name") != "baseguard":
        raise Malformed("JSON document is not baseguard's own format")
    check_native(doc)
    return Analysis.from_dict(doc)
