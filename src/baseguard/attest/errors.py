"""Errors of the attestation package, and the reason codes a rejected attachment carries."""

from __future__ import annotations

from baseguard.errors import BaseguardError


class AttestError(BaseguardError):
    """Verification input is unusable: a bad key or trusted root file, a bad requirement.

    A signature or attestation that simply does not verify is *not* an error: it is a
    :class:`Rejection` in the result, and the command exits 1, not 2.
    """


class VerificationFailure(Exception):
    """One piece of evidence did not verify; ``code`` says how, ``reason`` says it in words.

    Raised inside the package and turned into a rejection by :mod:`baseguard.attest.verify`.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# Reason codes (stable strings: tests, the store and reports key on them).
BAD_SIGNATURE = "bad-signature"
"""The signature does not verify with the trusted key (payload altered, or another key)."""
DIGEST_MISMATCH = "digest-mismatch"
"""A signature payload names another image digest."""
SUBJECT_MISMATCH = "subject-mismatch"
"""An in-toto statement's subjects do not include the image digest."""
IDENTITY_MISMATCH = "identity-mismatch"
"""A keyless certificate was issued to another identity."""
ISSUER_MISMATCH = "issuer-mismatch"
"""A keyless certificate's identity was vouched for by another OIDC issuer."""
UNTRUSTED = "untrusted"
"""A Sigstore bundle does not verify against the trusted root (chain, SCT, log, time)."""
MALFORMED = "malformed"
"""The attachment is not a well-formed signature, envelope, statement or bundle."""
UNSUPPORTED = "unsupported"
"""The attachment cannot be verified with the trust material given (keyless vs key)."""
BUILDER_NOT_ALLOWED = "builder-not-allowed"
SOURCE_MISMATCH = "source-repo-mismatch"
LEVEL_TOO_LOW = "level-too-low"
MISSING = "missing"
