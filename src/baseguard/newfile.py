"""Temporary files that become the user's files: written beside the target, then renamed.

:func:`tempfile.mkstemp` makes its file 0600, so a database, export or report renamed from
it would stay readable by its owner only, unlike any other file the user creates. Setting
the mode afterwards needs the umask, and reading the umask means setting it (process-wide,
racing every other thread that creates a file). :func:`mkstemp` here asks the kernel for
``mode`` at creation instead, which applies the umask itself.

Light on purpose: only the standard library.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

#: The mode asked for (less the umask): readable by all, writable by the owner.
FILE_MODE = 0o644
_ATTEMPTS = 100


def mkstemp(*, dir: Path | str, prefix: str = "", suffix: str = "") -> tuple[int, str]:
    """As :func:`tempfile.mkstemp` (``(fd, path)``, a new file opened for writing, never an
    existing file or symlink), but the file gets :data:`FILE_MODE` less the umask."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(_ATTEMPTS):
        path = os.path.join(dir, f"{prefix}{secrets.token_hex(8)}{suffix}")
        try:
            return os.open(path, flags, FILE_MODE), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {dir} after {_ATTEMPTS} tries")
