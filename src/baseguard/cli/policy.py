"""``baseguard policy generate``: admission policies from the catalog, for one engine."""

from __future__ import annotations

from pathlib import Path

import typer

from baseguard.cli.common import reported_errors, stderr_console, write_output
from baseguard.policy.base import (
    DEFAULT_EXEMPT_NAMESPACES,
    POLICY_GENERATORS,
    SBOM_PREDICATES,
    SLSA_PREDICATES,
)

app = typer.Typer(
    help=(
        "Admission policies that enforce the catalog: Kyverno, Gatekeeper, "
        "ValidatingAdmissionPolicy and sigstore policy-controller."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


def parse_label(text: str | None) -> tuple[str, str] | None:
    """``team=payments`` → (key, value); raises UsageError when malformed."""
    from baseguard.errors import UsageError

    if text is None:
        return None
    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise UsageError(
            f"--opt-in-label {text!r} is not KEY=VALUE",
            hint="for example --opt-in-label baseguard.io/enforce=true",
        )
    return key.strip(), value.strip()


@app.command("generate")
def generate_command(
    engine: str = typer.Option(
        ...,
        "--engine",
        "-e",
        help=f"Policy engine: {', '.join(POLICY_GENERATORS)}.",
    ),
    catalog: Path = typer.Option(
        Path("catalog.yaml"), "--catalog", "-c", help="The catalog file.", show_default=True
    ),
    output_dir: Path | None = typer.Option(
        None,
        "--output-dir",
        "-o",
        help="Write one YAML file per resource into this directory (default: one multi-document "
        "stream on stdout).",
    ),
    mode: str = typer.Option(
        "enforce", "--mode", help="audit (admit and report/warn) or enforce (refuse)."
    ),
    exempt_namespace: list[str] = typer.Option(
        None,
        "--exempt-namespace",
        help="Namespace never judged (repeatable; default: "
        f"{', '.join(DEFAULT_EXEMPT_NAMESPACES)}).",
    ),
    opt_in_label: str | None = typer.Option(
        None,
        "--opt-in-label",
        metavar="KEY=VALUE",
        help="Judge only namespaces carrying this label.",
    ),
    name: str = typer.Option("baseguard-catalog", "--name", help="Name of the policy objects."),
    slsa: str = typer.Option(
        "v1", "--slsa-predicate", help=f"SLSA provenance version: {', '.join(SLSA_PREDICATES)}."
    ),
    sbom: str = typer.Option(
        "spdx", "--sbom-format", help=f"SBOM attestation format: {', '.join(SBOM_PREDICATES)}."
    ),
) -> None:
    """Generate the engine's policies from the catalog's entries, exceptions and attestations."""
    with reported_errors():
        from baseguard.catalog.spec import load_catalog
        from baseguard.errors import UsageError
        from baseguard.policy.base import PolicyOptions, generate, to_stream, to_yaml

        if engine not in POLICY_GENERATORS:
            raise UsageError(
                f"unknown policy engine {engine!r}",
                hint=f"choose one of: {', '.join(POLICY_GENERATORS)}",
            )
        if slsa not in SLSA_PREDICATES:
            raise UsageError(f"unknown --slsa-predicate {slsa!r}", hint="use v1 or v0.2")
        if sbom not in SBOM_PREDICATES:
            raise UsageError(f"unknown --sbom-format {sbom!r}", hint="use spdx or cyclonedx")
        options = PolicyOptions(
            mode=mode,
            exempt_namespaces=tuple(sorted(set(exempt_namespace)))
            if exempt_namespace
            else DEFAULT_EXEMPT_NAMESPACES,
            opt_in_label=parse_label(opt_in_label),
            name=name,
            slsa_predicate=SLSA_PREDICATES[slsa],
            sbom_predicate=SBOM_PREDICATES[sbom],
            base_dir=catalog.parent,
        )
        result = generate(engine, load_catalog(catalog), options)
        err = stderr_console()
        for note in result.notes:
            err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
        if output_dir is None:
            write_output(to_stream(result.resources), None)
            return
        if output_dir.exists() and not output_dir.is_dir():
            raise UsageError(
                f"--output-dir {output_dir}: exists and is not a directory",
                hint="give a directory (it is created if missing), or leave -o out for stdout",
            )
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"--output-dir {output_dir}: cannot create it ({exc.strerror or exc})"
            ) from None
        for resource in result.resources:
            write_output(to_yaml(resource.body), output_dir / resource.filename)
        err.print(
            f"wrote {len(result.resources)} file(s) to {output_dir}", markup=False, highlight=False
        )
