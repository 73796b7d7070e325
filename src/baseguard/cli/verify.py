"""``baseguard verify REF``: signatures, SLSA provenance, SBOM and VEX attestations of an image."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from baseguard.cli import options
from baseguard.cli.common import EXIT_FINDINGS, reported_errors, write_output

if TYPE_CHECKING:
    from baseguard.attest.verify import Trust, VerificationResult

FORMATS = ("table", "json")

KEY = typer.Option(
    None, "--key", help="PEM public key (ECDSA P-256, Ed25519 or RSA) to verify with."
)
IDENTITY = typer.Option(
    None, "--identity", help="Keyless: the certificate identity (SAN) the signer must have."
)
ISSUER = typer.Option(None, "--issuer", help="Keyless: the OIDC issuer that vouched for it.")
TRUSTED_ROOT = typer.Option(
    None,
    "--trusted-root",
    help="Keyless: Sigstore trusted_root.json (or client trust config) to verify offline against.",
)


def build_trust(
    key: Path | None, identity: str | None, issuer: str | None, trusted_root: Path | None
) -> Trust | None:
    """The trust the options describe; ``None`` when none was given. Usage errors exit 2."""
    from baseguard.attest.cosign import load_public_key_file
    from baseguard.attest.keyless import KeylessTrust
    from baseguard.attest.verify import Trust
    from baseguard.errors import UsageError

    keyless = identity is not None or issuer is not None or trusted_root is not None
    if key is not None and keyless:
        raise UsageError(
            "--key cannot be combined with --identity/--issuer/--trusted-root",
            hint="verify with a key, or keyless with an identity, not both",
        )
    if key is not None:
        return Trust(key=load_public_key_file(key))
    if not keyless:
        return None
    if identity is None or issuer is None or trusted_root is None:
        raise UsageError(
            "keyless verification needs --identity, --issuer and --trusted-root together",
            hint="the trusted root is a file (trusted_root.json); nothing is fetched online",
        )
    return Trust(keyless=KeylessTrust.from_file(trusted_root, identity, issuer))


def verify_command(
    ref: str = typer.Argument(..., metavar="REF", help="Registry image reference (tag or digest)."),
    key: Path | None = KEY,
    identity: str | None = IDENTITY,
    issuer: str | None = ISSUER,
    trusted_root: Path | None = TRUSTED_ROOT,
    require: list[str] = typer.Option(
        ["signature"],
        "--require",
        help="signature, provenance, provenance:slsaN, sbom, vex; comma-separated or repeated.",
    ),
    allowed_builder: list[str] = typer.Option(
        [],
        "--allowed-builder",
        help="Builder id a provenance must name (repeatable; an id ending in '@' or '/' "
        "admits every version under it). Implies --require provenance.",
    ),
    source_repo: str | None = typer.Option(
        None,
        "--source-repo",
        help="Source repository the provenance must name. Implies --require provenance.",
    ),
    output: str | None = typer.Option(
        None, "--output", "-o", help="table or json. Default: table on a terminal, json otherwise."
    ),
    file: Path | None = options.FILE,
    insecure: bool = options.INSECURE,
    ca_file: Path | None = options.CA_FILE,
) -> None:
    """Verify an image's signatures and attestations against requirements.

    \b
    Attachments are found through the OCI 1.1 referrers API (or the referrers tag
    schema on registries without it) and cosign's tags (sha256-<hex>.sig/.att/.sbom).
    Signatures are checked with a public key (--key) or keyless against a Sigstore
    trusted root file (--identity, --issuer, --trusted-root); nothing is fetched online.

    \b
    Examples:
      baseguard verify registry.example.com/app:1.2 --key cosign.pub
      baseguard verify app@sha256:… --key cosign.pub \\
          --require signature,provenance:slsa3,sbom,vex \\
          --allowed-builder https://github.com/ORG/builder/.github/workflows/b.yml@ \\
          --source-repo https://github.com/example/app
      baseguard verify app:1.2 --trusted-root trusted_root.json \\
          --identity https://github.com/example/app/.github/workflows/rel.yml@refs/heads/main \\
          --issuer https://token.actions.githubusercontent.com

    Exit codes: 0 every requirement met, 1 a requirement failed (each failure says why),
    2 bad input or usage (unknown image, unreadable key or trusted root, bad option).
    """
    from baseguard.errors import UsageError

    with reported_errors():
        fmt = output or ("table" if sys.stdout.isatty() and file is None else "json")
        if fmt not in FORMATS:
            raise UsageError(f"unknown output format {fmt!r}", hint="choose table or json")
        from baseguard.attest.verify import Requirements, verify_image

        requirements = Requirements.parse(
            require, allowed_builders=allowed_builder, source_repo=source_repo
        )
        trust = build_trust(key, identity, issuer, trusted_root)
        if trust is None:
            raise UsageError(
                "nothing to verify with",
                hint="give --key FILE, or --identity ID --issuer URL --trusted-root FILE",
            )
        result = verify_image(ref, requirements, trust=trust, insecure=insecure, ca_file=ca_file)
        write_output(result.to_json() if fmt == "json" else render_table(result), file)
        if not result.passed:
            raise typer.Exit(EXIT_FINDINGS)


def render_table(result: VerificationResult) -> str:
    """A plain-text report: one line per requirement, then the evidence looked at."""
    lines = [
        f"image   {result.reference}",
        f"digest  {result.digest}",
        f"trust   {result.trust}",
        "",
        f"{'REQUIREMENT':<20} {'RESULT':<7} REASON",
    ]
    for check in result.checks:
        status = "pass" if check.passed else "FAIL"
        codes = f"[{', '.join(check.codes)}] " if check.codes else ""
        lines.append(f"{check.name:<20} {status:<7} {codes}{check.reason}")
    ev = result.evidence
    found = [
        *(f"  signature    {s.via} {s.location}: verified" for s in ev.signatures),
        *(
            f"  attestation  {a.via} {a.location}: {a.predicate_type} verified"
            for a in ev.attestations
            if a.verified
        ),
        *(f"  rejected     [{r.code}] {r.reason}" for r in ev.rejections),
        *(f"  unsigned     {u.via} {u.location}: {u.kind} ({u.media_type})" for u in ev.unsigned),
    ]
    lines += ["", "evidence" + ("" if found else ": nothing attached to this digest"), *found]
    api = "answered" if result.referrers_api else "not implemented (referrers tag schema used)"
    lines.append(f"  referrers API {api}")
    lines.append("")
    lines.append("PASSED" if result.passed else "FAILED")
    return "\n".join(lines)


# -- `scan --vex-from-image` ------------------------------------------------------------------

VEX_FROM_IMAGE = typer.Option(
    False,
    "--vex-from-image",
    help="Also apply the OpenVEX attestations attached to the image in its registry "
    "(verified with --vex-key or --vex-identity/--vex-issuer/--vex-trusted-root).",
)
VEX_KEY = typer.Option(None, "--vex-key", help="Public key the image's VEX must be signed with.")
VEX_IDENTITY = typer.Option(None, "--vex-identity", help="Keyless signer of the image's VEX.")
VEX_ISSUER = typer.Option(None, "--vex-issuer", help="OIDC issuer of --vex-identity.")
VEX_TRUSTED_ROOT = typer.Option(
    None, "--vex-trusted-root", help="Sigstore trusted_root.json for --vex-identity."
)


def image_vex_documents(
    ref: str,
    key: Path | None,
    identity: str | None,
    issuer: str | None,
    trusted_root: Path | None,
    *,
    insecure: bool,
    ca_file: Path | None,
) -> list[Any]:
    """The OpenVEX documents attached to registry image ``ref``; warnings go to stderr.

    With a key or identity only verified attestations are returned; without, every OpenVEX
    attestation about the image digest is, and stderr says that none was verified.
    """

    from baseguard.attest.verify import fetch_image_vex
    from baseguard.cli.common import print_warnings
    from baseguard.errors import UsageError
    from baseguard.image.source import split_transport

    transport, rest = split_transport(ref)
    if transport not in ("", "docker", "registry") or (not transport and Path(ref).exists()):
        raise UsageError(
            f"--vex-from-image needs a registry image, not {ref!r}",
            hint="VEX attestations live next to the image in its registry",
        )
    trust = build_trust(key, identity, issuer, trusted_root)
    found = fetch_image_vex(rest, trust=trust, insecure=insecure, ca_file=ca_file)
    print_warnings(found.warnings)
    return found.documents
