"""Trust but verify: image signatures, SLSA provenance, SBOM and VEX attestations.

The entry point is :func:`~baseguard.attest.verify.verify_image`; see ``docs/verify.md``.
"""

from __future__ import annotations

from baseguard.attest.cosign import TrustedKey, load_public_key, load_public_key_file
from baseguard.attest.errors import AttestError, VerificationFailure
from baseguard.attest.keyless import KeylessTrust, load_trusted_root
from baseguard.attest.policy import AllOf, AnyOf, Evidence, Policy, PolicyResult
from baseguard.attest.verify import (
    ImageVex,
    Requirements,
    Trust,
    VerificationResult,
    fetch_image_vex,
    verify_image,
)

__all__ = [
    "AllOf",
    "AnyOf",
    "AttestError",
    "Evidence",
    "ImageVex",
    "KeylessTrust",
    "Policy",
    "PolicyResult",
    "Requirements",
    "Trust",
    "TrustedKey",
    "VerificationFailure",
    "VerificationResult",
    "fetch_image_vex",
    "load_public_key",
    "load_public_key_file",
    "load_trusted_root",
    "verify_image",
]
