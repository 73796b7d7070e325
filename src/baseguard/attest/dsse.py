"""DSSE envelopes (Dead Simple Signing Envelope): parsing, the PAE signing input, and JSON.

An envelope signs ``PAE(payloadType, payload)``, never the JSON around it, so a verifier
must rebuild PAE from the decoded fields; see the DSSE specification (v1.0).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from baseguard.attest.errors import MALFORMED, VerificationFailure

DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
#: Envelopes larger than this are refused before decoding.
MAX_ENVELOPE_BYTES = 32 << 20


@dataclass(frozen=True)
class DsseSignature:
    sig: bytes
    keyid: str = ""


@dataclass(frozen=True)
class Envelope:
    """A decoded DSSE envelope."""

    payload_type: str
    payload: bytes
    signatures: tuple[DsseSignature, ...] = field(default_factory=tuple)

    def pae(self) -> bytes:
        """The bytes the signatures are over."""
        return pae(self.payload_type, self.payload)

    def to_json(self) -> dict[str, Any]:
        return {
            "payloadType": self.payload_type,
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")}
                for s in self.signatures
            ],
        }


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding: ``DSSEv1 SP LEN(type) SP type SP LEN(body) SP body``."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def b64decode_any(text: Any, what: str) -> bytes:
    """Standard or URL-safe base64, padded or not (both appear in real envelopes)."""
    if not isinstance(text, str):
        raise VerificationFailure(MALFORMED, f"{what} is not a base64 string")
    cleaned = text.rstrip("=")
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            padded = padded.replace("-", "+").replace("_", "/")
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VerificationFailure(MALFORMED, f"{what} is not valid base64 ({exc})") from exc


def parse_envelope(data: bytes | str | dict[str, Any], source: str) -> Envelope:
    """Read a DSSE envelope from JSON bytes or an already decoded object.

    Raises :class:`VerificationFailure` (``malformed``) naming ``source`` and the field.
    """
    doc: Any = data
    if isinstance(data, bytes | str):
        if len(data) > MAX_ENVELOPE_BYTES:
            raise VerificationFailure(
                MALFORMED, f"{source}: DSSE envelope larger than {MAX_ENVELOPE_BYTES} bytes"
            )
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise VerificationFailure(
                MALFORMED, f"{source}: DSSE envelope is not JSON ({exc})"
            ) from exc
    if not isinstance(doc, dict):
        raise VerificationFailure(MALFORMED, f"{source}: DSSE envelope is not a JSON object")
    payload_type = doc.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise VerificationFailure(MALFORMED, f"{source}: DSSE envelope has no payloadType")
    if "payload" not in doc:
        raise VerificationFailure(MALFORMED, f"{source}: DSSE envelope has no payload")
    payload = b64decode_any(doc["payload"], f"{source}: DSSE payload")
    raw_sigs = doc.get("signatures")
    if not isinstance(raw_sigs, list) or not raw_sigs:
        raise VerificationFailure(MALFORMED, f"{source}: DSSE envelope has no signatures")
    sigs: list[DsseSignature] = []
    for i, item in enumerate(raw_sigs):
        if not isinstance(item, dict):
            raise VerificationFailure(MALFORMED, f"{source}: DSSE signature {i} is not an object")
        sig = b64decode_any(item.get("sig"), f"{source}: DSSE signature {i}")
        if not sig:
            raise VerificationFailure(MALFORMED, f"{source}: DSSE signature {i} is empty")
        keyid = item.get("keyid") or ""
        sigs.append(DsseSignature(sig=sig, keyid=str(keyid)))
    return Envelope(payload_type=payload_type, payload=payload, signatures=tuple(sigs))
