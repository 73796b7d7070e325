"""``baseguard sbom REF``: every package in an image, as CycloneDX, SPDX or baseguard JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from baseguard.cli import options
from baseguard.cli.common import reported_errors, write_output

FORMAT_HELP = "SBOM format: cyclonedx-json, spdx-json or json (baseguard's own analysis)."


@options.image_command
def sbom_command(
    ref: str = options.REF,
    output: str = typer.Option("cyclonedx-json", "--output", "-o", help=FORMAT_HELP),
    file: Path | None = options.FILE,
    image: options.ImageArgs = options.IMAGE,
) -> None:
    """Write the software bill of materials of an image.

    \b
    Formats (-o):
      cyclonedx-json   CycloneDX 1.6 JSON
      spdx-json        SPDX 2.3 JSON
      json             baseguard's analysis (packages, facts, image identity)

    \b
    Examples:
      baseguard sbom alpine:3.20 -o spdx-json --file alpine.spdx.json
      baseguard sbom oci:./layout -o cyclonedx-json > bom.cdx.json

    Packages a file could not be read for are listed as issues in the output; --strict
    makes them fatal. Exit codes: 0 written, 2 bad input, 3 internal error.
    """
    from baseguard.errors import UsageError
    from baseguard.sbom import SBOM_FORMATS

    with reported_errors():
        if output not in SBOM_FORMATS:
            raise UsageError(
                f"unknown SBOM format {output!r}",
                hint=f"choose one of: {', '.join(sorted(SBOM_FORMATS))}",
            )
        writer = SBOM_FORMATS[output]()
        result = image.analyze(ref)
        write_output(writer.write(result, now=datetime.now(UTC)), file)
