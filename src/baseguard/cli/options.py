"""Options shared by the commands that read an image, and the one way they open it."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from baseguard.analysis.analyze import Analysis
    from baseguard.image.source import OpenOptions

REF = typer.Argument(
    ..., help="The image; `baseguard analyze --help` lists the forms.", metavar="REF"
)
FILE = typer.Option(
    None, "--file", help="Write the output to this file instead of stdout (atomically)."
)
PLATFORM = typer.Option(
    None,
    "--platform",
    help="OS/ARCH[/VARIANT] to pick from a multi-platform image. Default: linux/amd64.",
)
INSECURE = typer.Option(
    False,
    "--insecure",
    help="Allow plain HTTP and unverified TLS to a registry (loopback is always allowed).",
)


def check_ca_file(param: typer.CallbackParam, value: Path | None) -> Path | None:
    """A CA bundle option (``--ca-file``, ``--server-ca``) that names a readable PEM bundle.

    Checked when the command line is read, so that a wrong path or a file that holds no
    certificate is a usage error naming the option, not a TLS failure deep in a pull. The
    check is the registry client's own (:func:`~baseguard.image.registry.ca_context`).
    """
    if value is None:
        return None
    from baseguard.errors import RegistryError
    from baseguard.image.registry import ca_context

    try:
        ca_context(value)
    except RegistryError as exc:
        name = param.opts[0] if param.opts else "--ca-file"
        raise typer.BadParameter(exc.message, param_hint=name) from None
    return value


CA_FILE = typer.Option(
    None,
    "--ca-file",
    help="PEM file of CA certificates to trust for registry TLS.",
    callback=check_ca_file,
)
MAX_BYTES = typer.Option(
    None,
    "--max-bytes",
    min=1,
    help="Refuse layers that decompress to more than this many bytes.",
)
MAX_FILES = typer.Option(
    None, "--max-files", min=1, help="Refuse images with more files than this."
)
STRICT = typer.Option(False, "--strict", help="Fail (exit 2) if any package file cannot be read.")


def parse_day(text: str | None, option: str = "--date") -> date | None:
    """A ``YYYY-MM-DD`` option as a date (None when not given), or a usage error naming it."""
    from baseguard.catalog.model import parse_date
    from baseguard.errors import BaseguardError, UsageError

    if text is None:
        return None
    try:
        return parse_date(text)
    except BaseguardError:
        raise UsageError(f"{option} {text!r}: expected a date as YYYY-MM-DD") from None


def parse_build_args(items: list[str]) -> dict[str, str]:
    """``--build-arg KEY=VALUE`` options as a dict (the last value of a key wins)."""
    from baseguard.errors import UsageError

    args: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--build-arg {item!r}: expected KEY=VALUE")
        args[key] = value
    return args


def open_options(platform: str | None, insecure: bool, ca_file: Path | None) -> OpenOptions:
    """``--platform``, ``--insecure`` and ``--ca-file`` as the options to open images with."""
    from baseguard.image.model import Platform
    from baseguard.image.source import OpenOptions

    return OpenOptions(
        platform=Platform.parse(platform) if platform else None,
        insecure=insecure,
        ca_file=str(ca_file) if ca_file else None,
    )


@dataclass(frozen=True)
class ImageArgs:
    """How to open and read an image: the options :func:`image_command` gives a command."""

    platform: str | None = None
    insecure: bool = False
    ca_file: Path | None = None
    max_bytes: int | None = None
    max_files: int | None = None
    strict: bool = False

    def analyze(self, ref: str) -> Analysis:
        """Open and analyse ``ref`` with these options, drawing progress bars."""
        from baseguard.analysis.analyze import analyze
        from baseguard.cli.progress import progress_reporter
        from baseguard.image.layers import Limits

        limits = Limits()
        if self.max_bytes is not None:
            limits.max_uncompressed_bytes = self.max_bytes
        if self.max_files is not None:
            limits.max_files = self.max_files
        with progress_reporter(ref) as (pull_progress, layer_progress):
            options = open_options(self.platform, self.insecure, self.ca_file)
            options.progress = pull_progress
            if self.max_bytes is not None:
                options.max_archive_bytes = self.max_bytes
            return analyze(ref, options, limits=limits, progress=layer_progress, strict=self.strict)


#: The default of an :func:`image_command`'s ``image`` parameter (typer sees the options).
IMAGE = ImageArgs()

#: The command-line option of each :class:`ImageArgs` field.
_IMAGE_OPTIONS: dict[str, Any] = {
    "platform": PLATFORM,
    "insecure": INSECURE,
    "ca_file": CA_FILE,
    "max_bytes": MAX_BYTES,
    "max_files": MAX_FILES,
    "strict": STRICT,
}


def image_command(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command the image options (``--platform`` … ``--strict``) after its own.

    ``command`` declares its own options and a keyword parameter ``image: ImageArgs``. The
    command typer sees has, in place of ``image``, one option per field of
    :class:`ImageArgs`; it calls ``command`` with their values gathered into ``image``.
    """
    hints = typing.get_type_hints(command)
    own = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in inspect.signature(command).parameters.values()
        if p.name != "image"
    ]
    field_hints = typing.get_type_hints(ImageArgs)
    added = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=_IMAGE_OPTIONS[f.name],
            annotation=field_hints[f.name],
        )
        for f in fields(ImageArgs)
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        image = ImageArgs(**{f.name: kwargs.pop(f.name) for f in fields(ImageArgs)})
        command(*args, image=image, **kwargs)

    parameters = [*own, *added]
    wrapper.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    return wrapper
