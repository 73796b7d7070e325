"""The catalog held in memory and reloaded when its file changes.

Every :meth:`CatalogCache.get` costs one ``stat``: when the file's size, mtime or inode
changed, it is read again, hashed (SHA-256) and parsed only if its content differs. A
Kubernetes ConfigMap volume swaps a symlink, which changes the inode; an edit in place that
keeps size and mtime (two writes within one clock tick) is caught by re-reading the file at
most every ``recheck`` seconds. A file that
cannot be read or does not validate never replaces a good catalog: the last good one keeps
being served, marked stale, and the error is reported by :meth:`CatalogCache.status` (and so by
``/readyz``) until the file is fixed. Only when no good catalog was ever loaded does ``get``
raise :class:`CatalogUnavailableError`, and the webhook answers per its failure mode.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from baseguard.catalog.model import Catalog
from baseguard.errors import BaseguardError
from baseguard.gate.admission import ImageJudge

log = logging.getLogger("baseguard.server")

Clock = Callable[[], datetime]
_StatKey = tuple[int, int, int, int]


class CatalogUnavailableError(BaseguardError):
    """No catalog has been loaded: the file is missing, unreadable or invalid."""


@dataclass(frozen=True)
class CatalogSnapshot:
    """One loaded catalog and where it came from."""

    catalog: Catalog
    sha256: str
    loaded_at: datetime
    path: str
    #: Judgements of this catalog, memoised (a new catalog starts a new memo).
    judge: ImageJudge = field(compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "sha256": self.sha256,
            "entries": len(self.catalog.entries),
            "exceptions": len(self.catalog.exceptions),
            "loadedAt": self.loaded_at.isoformat(),
            "judgements": {"memoised": self.judge.misses, "served": self.judge.hits},
        }


def _stat_key(path: Path) -> _StatKey | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


class CatalogCache:
    """The catalog at ``path``, reloaded on change (see module doc); safe across threads."""

    def __init__(
        self, path: Path | None, *, clock: Clock | None = None, recheck: float = 2.0
    ) -> None:
        self.path = path
        self.recheck = recheck
        self._read_at = 0.0
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._snapshot: CatalogSnapshot | None = None
        self._key: _StatKey | None = None
        self._tried = False
        self.error: str | None = None if path is not None else "no catalog file is configured"
        self.error_at: datetime | None = None
        self.reloads = 0

    def get(self) -> CatalogSnapshot:
        """The current catalog (reloaded first if the file changed)."""
        if self.path is None:
            raise CatalogUnavailableError("no catalog file is configured")
        key = _stat_key(self.path)
        snapshot = self._snapshot
        now = time.monotonic()
        if snapshot is not None and key == self._key and now - self._read_at < self.recheck:
            return snapshot
        with self._lock:
            if not self._tried or key != self._key or now - self._read_at >= self.recheck:
                self._reload(key)
            if self._snapshot is None:
                raise CatalogUnavailableError(self.error or "the catalog could not be read")
            return self._snapshot

    def _reload(self, key: _StatKey | None) -> None:
        from baseguard.catalog.spec import loads_catalog, read_text

        assert self.path is not None
        self._tried = True
        self._key = key
        self._read_at = time.monotonic()
        try:
            text = read_text(self.path)
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            if self._snapshot is not None and digest == self._snapshot.sha256:
                self.error = self.error_at = None
                return
            catalog = loads_catalog(text, str(self.path))
        except BaseguardError as exc:
            repeated = exc.message == self.error
            self.error = exc.message
            if repeated:
                return  # logged when it first happened
            self.error_at = self._clock()
            if self._snapshot is not None:
                log.error(
                    "catalog %s: %s; still serving the last good catalog (sha256 %s)",
                    self.path,
                    exc.message,
                    self._snapshot.sha256[:12],
                )
            else:
                log.error("catalog %s: %s", self.path, exc.message)
            return
        self._snapshot = CatalogSnapshot(
            catalog, digest, self._clock(), str(self.path), ImageJudge(catalog)
        )
        self.error = self.error_at = None
        self.reloads += 1
        log.info(
            "catalog %s loaded: %d entries, sha256 %s",
            self.path,
            len(catalog.entries),
            digest[:12],
        )

    @property
    def stale(self) -> bool:
        """True when a good catalog is served but the file now holds something unreadable."""
        return self._snapshot is not None and self.error is not None

    def status(self) -> dict[str, Any]:
        """For ``/readyz``: what is loaded, and the last error if the file is broken."""
        with contextlib.suppress(CatalogUnavailableError):
            self.get()
        snapshot = self._snapshot
        return {
            "loaded": snapshot is not None,
            "stale": self.stale,
            "error": self.error,
            "errorAt": self.error_at.isoformat() if self.error_at else None,
            "reloads": self.reloads,
            **(snapshot.to_dict() if snapshot else {"file": str(self.path) if self.path else None}),
        }
