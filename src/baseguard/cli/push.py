"""``baseguard push TARGET``: analyse an image (or read an SBOM) here, store it on the service."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from baseguard.cli import options
from baseguard.cli.common import reported_errors, stdout_console
from baseguard.errors import BaseguardError, UsageError

#: The server could not be reached or failed (5xx): worth retrying later.
EXIT_UNAVAILABLE = 4
TOKEN_ENV = "BASEGUARD_TOKEN"


class PushError(BaseguardError):
    """The service refused the upload (4xx): the message is its problem detail."""


class ServiceUnavailableError(BaseguardError):
    exit_code = EXIT_UNAVAILABLE


def problem_text(response: Any) -> str:
    """The problem+json detail of an error response (or its start, when it is not one)."""
    try:
        body = response.json()
    except ValueError:
        return str(response.text[:300] or response.reason_phrase)
    if not isinstance(body, dict):
        return str(body)[:300]
    text = str(body.get("detail") or body.get("title") or response.reason_phrase)
    for error in body.get("errors") or []:
        text += f"; {'.'.join(error.get('loc', []))}: {error.get('msg')}"
    return text


def upload(
    server: str,
    token: str,
    body: bytes,
    *,
    reference: str | None,
    digest: str | None,
    scan: bool,
    timeout: float = 120.0,
    ca_file: Path | None = None,
) -> dict[str, Any]:
    """POST ``body`` to ``server``/api/analyses; the service's answer, or an error."""
    import httpx

    from baseguard.image.registry import ca_context

    params: dict[str, str] = {"scan": "true" if scan else "false"}
    if reference:
        params["reference"] = reference
    if digest:
        params["digest"] = digest
    url = server.rstrip("/") + "/api/analyses"
    try:
        response = httpx.post(
            url,
            content=body,
            params=params,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=timeout,
            verify=ca_context(ca_file) if ca_file else True,
        )
    except httpx.HTTPError as exc:
        raise ServiceUnavailableError(
            f"cannot reach {url}: {exc}", hint="check --server and that the service runs"
        ) from None
    if response.status_code >= 500:
        raise ServiceUnavailableError(
            f"{url} failed with {response.status_code}: {problem_text(response)}"
        )
    if response.status_code in (401, 403):
        raise PushError(
            f"the service refused the token ({response.status_code}): {problem_text(response)}",
            hint="push needs a token with the uploader role (baseguard token create)",
        )
    if response.status_code >= 400:
        raise PushError(f"the service refused the upload: {problem_text(response)}")
    answer: dict[str, Any] = response.json()
    return answer


def _check_digest(param: typer.CallbackParam, value: str | None) -> str | None:
    """``--digest`` as the service takes it (``sha256:<64 hex>``, or sha512), checked when the
    command line is read: before the image is analysed or anything is sent."""
    if value is None:
        return None
    from baseguard.image.model import validate_digest

    try:
        return validate_digest(value)
    except BaseguardError as exc:
        raise typer.BadParameter(f"{exc.message}: {exc.hint}", param_hint="--digest") from None


def push_command(
    target: str = typer.Argument(
        ..., metavar="TARGET", help="An image (as for `analyze`) or an SBOM file."
    ),
    server: str = typer.Option(..., "--server", help="The service's URL, e.g. https://bg:8443."),
    token: str | None = typer.Option(
        None,
        "--token",
        help=f"API token (uploader role or above). Default: ${TOKEN_ENV} (safer: not in ps).",
    ),
    reference: str | None = typer.Option(
        None,
        "--reference",
        help="The image reference to store it under. Default: the image's own name.",
    ),
    digest: str | None = typer.Option(
        None,
        "--digest",
        help="The image digest (sha256:<64 hex>), for an SBOM that does not name one.",
        callback=_check_digest,
    ),
    scan: bool = typer.Option(
        True, "--scan/--no-scan", help="Ask the service to match it against its database."
    ),
    timeout: float = typer.Option(
        120.0, "--timeout", min=0.001, help="Seconds to wait for the service."
    ),
    server_ca: Path | None = typer.Option(
        None,
        "--server-ca",
        help="PEM CA bundle to trust for the service's HTTPS.",
        callback=options.check_ca_file,
    ),
    platform: str | None = options.PLATFORM,
    insecure: bool = options.INSECURE,
    ca_file: Path | None = options.CA_FILE,
) -> None:
    """Analyse TARGET locally and upload the analysis, with its image reference, to the service.

    \b
    An SBOM file (CycloneDX or SPDX, or baseguard's own JSON) is uploaded as it is; an image
    is analysed here first (no image leaves this machine, only its analysis).

    \b
    Examples:
      export BASEGUARD_TOKEN=bgt_…
      baseguard push registry.example.com/app:1.4 --server https://baseguard.example.com
      baseguard push bom.cdx.json --server https://baseguard.example.com \\
          --reference registry.example.com/app:1.4 --digest sha256:…

    Exit codes: 0 stored, 2 bad input or refused by the service (token, role, size,
    malformed), 3 internal error, 4 service unreachable or failing (retry later).
    """
    from baseguard.cli.scan import looks_like_sbom

    with reported_errors():
        secret = token or os.environ.get(TOKEN_ENV, "").strip()
        if not secret:
            raise UsageError(f"no token: give --token or set ${TOKEN_ENV}")
        if not server.startswith(("http://", "https://")):
            raise UsageError(f"--server {server!r} is not an http(s) URL")
        path = Path(target)
        if path.is_file() and looks_like_sbom(path):
            from baseguard.sbom.read import read_sbom

            read = read_sbom(path)  # refuse a malformed file here, with the file's name
            if not (digest or read.image.manifest_digest or read.image.config_digest):
                raise UsageError(
                    f"{path} names no image digest", hint="give it with --digest sha256:…"
                )
            body = path.read_bytes()
        else:
            image = options.ImageArgs(platform=platform, insecure=insecure, ca_file=ca_file)
            analysis = image.analyze(target)
            reference = reference or analysis.image.name or analysis.image.reference
            body = json.dumps(analysis.to_dict()).encode("utf-8")
        answer = upload(
            server,
            secret,
            body,
            reference=reference,
            digest=digest,
            scan=scan,
            timeout=timeout,
            ca_file=server_ca,
        )
        line = f"stored {answer.get('reference')} ({answer.get('digest')})"
        line += f", {answer.get('packages')} packages"
        scanned = answer.get("scan")
        if isinstance(scanned, dict):
            line += f", {scanned.get('summary', {}).get('total', 0)} findings"
        stdout_console().print(line, markup=False, highlight=False)
