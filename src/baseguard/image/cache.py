"""A content-addressed blob cache: ``<cache dir>/blobs/<algo>/<hex>``.

Blobs are written to a temporary file in the destination directory while being hashed, and
renamed into place only when the digest matches, so the cache never holds a partial or
wrong blob. The cache directory is ``platformdirs.user_cache_dir("baseguard")`` unless
``BASEGUARD_CACHE_DIR`` (or an explicit ``root``) says otherwise.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

import platformdirs

from baseguard.errors import DigestMismatchError
from baseguard.image.model import hasher_for, validate_digest

CACHE_ENV = "BASEGUARD_CACHE_DIR"


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$BASEGUARD_CACHE_DIR`` if set, else the platform's user cache dir for baseguard."""
    environ = os.environ if env is None else env
    override = environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("baseguard"))


class BlobCache:
    """Blobs keyed by digest, verified on the way in, size-checked on every hit."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def path_for(self, digest: str) -> Path:
        """Where the blob named ``digest`` lives (whether or not it is cached)."""
        validate_digest(digest)
        algo, _, hexpart = digest.partition(":")
        return self.root / "blobs" / algo / hexpart

    def has(self, digest: str, size: int | None = None) -> bool:
        """True if the blob is cached (and, when ``size`` is given, has that size).

        A cached file of the wrong size is damaged: it is removed and reported as missing.
        """
        path = self.path_for(digest)
        try:
            actual = path.stat().st_size
        except FileNotFoundError:
            return False
        if size is not None and size >= 0 and actual != size:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return False
        return True

    def size_of(self, digest: str) -> int | None:
        """The size of the cached blob, or ``None`` if it is not cached."""
        try:
            return self.path_for(digest).stat().st_size
        except FileNotFoundError:
            return None

    def open(self, digest: str) -> IO[bytes]:
        """Open the cached blob for reading (raises ``FileNotFoundError`` if absent)."""
        return self.path_for(digest).open("rb")

    def store_stream(
        self,
        digest: str,
        chunks: Iterable[bytes],
        size: int | None = None,
        what: str | None = None,
    ) -> Path:
        """Write ``chunks`` to the cache as ``digest``, verifying as it goes; return the path.

        Raises :class:`DigestMismatchError` (leaving nothing behind) when the bytes do not hash
        to ``digest`` or exceed the expected ``size``. Any other error (a dropped connection,
        say) also removes the partial file before it propagates.
        """
        final = self.path_for(digest)
        label = what or f"blob {digest}"
        final.parent.mkdir(parents=True, exist_ok=True)
        hasher = hasher_for(digest)
        written = 0
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=final.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    if not chunk:
                        continue
                    written += len(chunk)
                    if size is not None and size >= 0 and written > size:
                        raise DigestMismatchError(
                            f"{label}: more bytes than the {size} its descriptor declares",
                            hint="the source is corrupt or has been tampered with; "
                            "do not trust this image",
                        )
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            actual = f"{digest.partition(':')[0]}:{hasher.hexdigest()}"
            if actual != digest:
                raise DigestMismatchError(
                    f"{label}: content does not match its digest (expected {digest}, got {actual})",
                    hint="the source is corrupt or has been tampered with; do not trust this image",
                )
            if size is not None and size >= 0 and written != size:
                raise DigestMismatchError(
                    f"{label}: {written} bytes, but its descriptor declares {size}",
                    hint="the source is corrupt or has been tampered with; do not trust this image",
                )
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return final

    def store_bytes(self, digest: str, data: bytes) -> Path:
        """Store an in-memory blob (verified like :meth:`store_stream`)."""
        return self.store_stream(digest, [data], size=len(data))

    def remove(self, digest: str) -> None:
        """Drop a blob from the cache if present."""
        with contextlib.suppress(FileNotFoundError):
            self.path_for(digest).unlink()
