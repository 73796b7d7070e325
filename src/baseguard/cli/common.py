"""What every command shares: consoles, error reporting, output files, progress bars."""

from __future__ import annotations

import io
import os
import sys
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from baseguard import newfile
from baseguard.errors import BaseguardError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


@dataclass
class GlobalState:
    verbose: int = 0
    quiet: bool = False


STATE = GlobalState()


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def print_error(exc: BaseguardError) -> None:
    err = stderr_console()
    err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
    if exc.hint:
        err.print(f"[yellow]hint:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)


def print_warnings(warnings: Iterable[object]) -> None:
    """``warning: …`` on stderr for each item. Printed even with ``-q``: a warning says the
    result is less complete than it looks (``-q`` drops progress bars and notes only)."""
    err = stderr_console()
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {escape(str(warning))}", soft_wrap=True)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn a :class:`BaseguardError` into one clear message and its exit code.

    A traceback is printed only with ``-v``. Anything unexpected is reported as an internal
    error (exit 3) with a pointer to ``-v``, never as a bare traceback.
    """
    try:
        yield
    except BaseguardError as exc:
        if STATE.verbose:
            traceback.print_exc(file=sys.stderr)
        print_error(exc)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        stderr_console().print("interrupted")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # a bug: say so clearly
        if STATE.verbose:
            traceback.print_exc(file=sys.stderr)
        stderr_console().print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
            "run again with -v for the traceback, and please report it",
            markup=True,
            highlight=False,
        )
        raise typer.Exit(EXIT_INTERNAL) from None


def write_output(text: str, file: Path | None) -> None:
    """Write ``text`` to stdout, or atomically to ``file`` (no half-written file on failure)."""
    if file is None:
        sys.stdout.write(text)
        if not text.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
        return
    write_file((text if text.endswith("\n") else text + "\n").encode("utf-8"), file)


def write_file(data: bytes, file: Path) -> None:
    """Replace ``file`` with ``data`` atomically: nothing half-written is left on failure."""
    target = file.expanduser()
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise BaseguardError(
            f"cannot write {file}: directory {parent} does not exist",
            hint="create the directory first or choose another --file",
        )
    if target.is_dir():
        raise BaseguardError(
            f"cannot write {file}: it is a directory",
            hint="give a file name, for example --file " + str(Path(file) / "out.txt"),
        )
    try:
        fd, tmp = newfile.mkstemp(prefix=f".{target.name}.", dir=parent)
    except OSError as exc:
        raise BaseguardError(
            f"cannot write {file}: {exc.strerror or exc}",
            hint="choose a --file in a directory you may write to",
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise BaseguardError(
            f"cannot write {file}: {exc.strerror or exc}",
            hint="choose a --file in a directory you may write to",
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def report_console(
    file: Path | None,
    *,
    width: int,
    record_when_piped: bool = False,
    min_piped_width: int | None = None,
) -> Iterator[Console]:
    """The console a command prints its report to, the same way for every command.

    On the terminal (``file`` None): the live console. Into ``file`` — or, with
    ``record_when_piped``, to a piped stdout — a recording ``width`` columns wide, written
    atomically when the block ends (nothing is written if it raises). ``min_piped_width``
    widens the live console when stdout is not a terminal.
    """
    if file is None:
        console = stdout_console()
        if console.is_terminal or not record_when_piped:
            if not console.is_terminal and min_piped_width:
                console.width = max(console.width, min_piped_width)
            yield console
            return
    recording = Console(record=True, width=width, file=io.StringIO())
    yield recording
    write_output(recording.export_text(), file)


def show_progress() -> bool:
    """Progress bars only for people: a terminal on stderr and no ``-q``."""
    return not STATE.quiet and sys.stderr.isatty()
