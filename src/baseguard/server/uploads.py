"""Analyses uploaded by ``baseguard push`` (or any CI): read, checked, stored, matched.

An upload is baseguard's own JSON analysis or an SBOM (CycloneDX or SPDX, JSON, XML or
tag-value: whatever :func:`baseguard.sbom.read.parse_sbom` reads), with the image reference
it is of. The body is bounded (413 beyond the limit, before it is all read), a document that
does not parse is 422 with the parser's reason, and an analysis without a digest is 422
unless the upload names one. The stored analysis is matched against the server's
vulnerability database when it has one, so that the dashboard shows findings at once.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from baseguard.analysis.analyze import Analysis
from baseguard.errors import BaseguardError
from baseguard.server.problems import Problem
from baseguard.store.store import Store

DIGEST = re.compile(r"^sha(256:[0-9a-f]{64}|512:[0-9a-f]{128})$")
#: Kind of the audit event a scan run by the server records beside ``scan.result``.
SCAN_RUN = "scan.run"


def invalid(detail: str, **extra: Any) -> Problem:
    return Problem(422, "Invalid upload", detail, **extra)


def _unpaired_surrogate(analysis: Analysis) -> str | None:
    """Where ``analysis`` holds an unpaired UTF-16 surrogate (see
    :func:`~baseguard.server.webhook.lone_surrogate`), or None.

    Checked on what was read, not on the body: a DSSE envelope's payload is base64, so an
    escape (``\\ud800``) or a raw surrogate in it never shows in the body's bytes. Encoding
    the whole analysis at C speed finds whether there is one; only then is it walked.
    """
    doc = analysis.to_dict()
    try:
        json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        from baseguard.server.webhook import lone_surrogate

        return lone_surrogate(doc) or "(analysis)"
    return None


def parse_upload(data: bytes, *, reference: str | None, digest: str | None, limit: int) -> Analysis:
    """The analysis in ``data``, with ``reference`` and ``digest`` applied when given."""
    from baseguard.refs import parse_reference
    from baseguard.sbom.read import parse_sbom

    if not data.strip():
        raise invalid("the body is empty; send a baseguard analysis or an SBOM")
    if digest is not None and not DIGEST.match(digest):
        raise invalid(f"digest {digest!r} is not sha256:<64 hex> (or sha512)")
    if reference is not None:
        try:
            parse_reference(reference)
        except BaseguardError as exc:
            raise invalid(exc.message) from None
    try:
        analysis = parse_sbom(data, name="upload", max_bytes=limit)
    except BaseguardError as exc:
        if "larger than" in exc.message:
            raise Problem(413, "Request too large", exc.message) from None
        raise invalid(exc.message, hint=exc.hint) from None
    where = _unpaired_surrogate(analysis)
    if where is not None:  # not text: it would fail the store's encoding (a 500)
        raise invalid(f"{where}: holds an unpaired UTF-16 surrogate, which is not text")
    image = analysis.image
    if reference is not None:
        image = replace(image, reference=reference, name=reference)
    if digest is not None:
        image = replace(image, manifest_digest=digest)
    found = image.manifest_digest or image.config_digest
    if not found:
        raise invalid(
            "the document names no image digest",
            hint="give the image's digest with ?digest=sha256:… (baseguard push --digest)",
        )
    if not DIGEST.match(found):
        raise invalid(f"the document's image digest {found!r} is not a sha256/sha512 digest")
    return replace(analysis, image=image)


def open_vulndb(path: Path | None) -> Any | None:
    """The server's vulnerability database, or ``None`` when there is none."""
    from baseguard.vulndb.store import VulnDB, VulnDbError

    try:
        return VulnDB.open(path)
    except VulnDbError:
        return None


def scan_stored(
    store: Store, digest: str, analysis: Analysis, db: Any, *, actor: str
) -> dict[str, Any]:
    """Match ``analysis`` (the one stored under ``digest``) against ``db`` and store the scan."""
    from baseguard.matching.matcher import match

    result = match(analysis, db, now=datetime.now(UTC))
    scan_id = store.save_scan(digest, result, actor)
    summary = result.to_dict()["summary"]
    return {"id": scan_id, "digest": digest, "summary": summary, "warnings": result.warnings}


def store_upload(
    store: Store, analysis: Analysis, *, actor: str, vulndb: Path | None, scan: bool
) -> dict[str, Any]:
    """Save ``analysis`` (and match it when asked and a database is there)."""
    row_id = store.save_analysis(analysis, actor)
    digest = analysis.image.manifest_digest or analysis.image.config_digest or ""
    out: dict[str, Any] = {
        "id": row_id,
        "digest": digest,
        "reference": analysis.image.reference,
        "packages": len(analysis.packages),
        "scan": None,
    }
    if scan:
        db = open_vulndb(vulndb)
        if db is None:
            out["scanSkipped"] = "the server has no vulnerability database"
        else:
            try:
                out["scan"] = scan_stored(store, digest, analysis, db, actor=actor)
            finally:
                db.close()
    return out
