"""The catalog held in memory and reloaded when its file changes.

Checking costs one ``stat``: when the file's size, mtime or inode changed, it is read again,
hashed (SHA-256) and parsed only if its content differs. A Kubernetes ConfigMap volume swaps a
symlink, which changes the inode; an edit in place that keeps size and mtime (two writes within
one clock tick) is caught by re-reading the file at most every ``recheck`` seconds.

A file that cannot be read or does not validate never replaces a good catalog: the last good
one keeps being served, marked stale, and the error is reported by :meth:`CatalogCache.status`
(and so by ``/readyz``) until the file is fixed. Only when no good catalog was ever loaded does
:meth:`CatalogCache.get` raise :class:`CatalogUnavailableError`, and the webhook answers per its
failure mode.

Parsing is slow for a large catalog (the round-trip YAML loader takes about half a second for
200 entries, holding the interpreter lock), so it runs in a child process
(``python -m baseguard.server.catalog_cache``, the text on stdin, the validated catalog back as
JSON), and the webhook does not wait for it: :meth:`CatalogCache.fresh` answers on the event
loop when nothing changed; otherwise :meth:`CatalogCache.refresh_in_background` starts the
reload and reviews go on with the catalog in memory until the new one is in place (about a
second). :meth:`CatalogCache.get` (``/readyz``, the first load) waits for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
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
#: Longest a child process may take to parse a catalog.
PARSE_TIMEOUT = 120.0


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


def parse_here(text: str, source: str) -> Catalog:
    """Validate ``text`` as catalog.yaml in this process (raises CatalogError)."""
    from baseguard.catalog.spec import loads_catalog

    return loads_catalog(text, source)


def parse_in_child(text: str, source: str) -> Catalog:
    """Validate ``text`` in a child process: the same rules, without holding our GIL."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "baseguard.server.catalog_cache", source],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=PARSE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("cannot parse the catalog in a child process (%s); parsing here", exc)
        return parse_here(text, source)
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise BaseguardError(f"{source}: the catalog parser failed: {detail[0]}") from None
    if "error" in answer:
        raise BaseguardError(str(answer["error"]), hint=answer.get("hint"))
    return Catalog.from_dict(answer["catalog"])


class CatalogCache:
    """The catalog at ``path``, reloaded on change (see module doc); safe across threads.

    ``isolate=False`` parses in this process (tests, or where child processes are not
    allowed).
    """

    def __init__(
        self,
        path: Path | None,
        *,
        clock: Clock | None = None,
        recheck: float = 2.0,
        isolate: bool = True,
    ) -> None:
        self.path = path
        self.recheck = recheck
        self._parse = parse_in_child if isolate else parse_here
        self._read_at = 0.0
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._snapshot: CatalogSnapshot | None = None
        self._key: _StatKey | None = None
        self._tried = False
        self._refresher: threading.Thread | None = None
        self._refresher_lock = threading.Lock()
        self.error: str | None = None if path is not None else "no catalog file is configured"
        self.error_at: datetime | None = None
        self.reloads = 0

    @property
    def current(self) -> CatalogSnapshot | None:
        """The catalog in memory, whether or not the file has changed since."""
        return self._snapshot

    def _due(self, key: _StatKey | None) -> bool:
        return key != self._key or time.monotonic() - self._read_at >= self.recheck

    def fresh(self) -> CatalogSnapshot | None:
        """The catalog in memory if no reload is due (one ``stat``), else None."""
        if self.path is None:
            return None
        snapshot = self._snapshot
        if snapshot is not None and not self._due(_stat_key(self.path)):
            return snapshot
        return None

    def refresh_in_background(self) -> None:
        """Start a reload in a thread, unless one is running."""
        with self._refresher_lock:
            if self._refresher is not None and self._refresher.is_alive():
                return
            self._refresher = threading.Thread(
                target=self._refresh, name="baseguard-catalog", daemon=True
            )
            self._refresher.start()

    def _refresh(self) -> None:
        with contextlib.suppress(CatalogUnavailableError):
            self.get()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait for a background reload to finish; True when none is running."""
        refresher = self._refresher
        if refresher is not None:
            refresher.join(timeout)
            return not refresher.is_alive()
        return True

    def get(self) -> CatalogSnapshot:
        """The catalog as the file says now (reloaded first if due; waits for the reload)."""
        if self.path is None:
            raise CatalogUnavailableError("no catalog file is configured")
        key = _stat_key(self.path)
        snapshot = self._snapshot
        if snapshot is not None and not self._due(key):
            return snapshot
        with self._lock:
            if not self._tried or self._due(key):
                self._reload(key)
            if self._snapshot is None:
                raise CatalogUnavailableError(self.error or "the catalog could not be read")
            return self._snapshot

    def _reload(self, key: _StatKey | None) -> None:
        from baseguard.catalog.spec import read_text

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
            catalog = self._parse(text, str(self.path))
        except BaseguardError as exc:
            self._failed(exc.message)
            return
        judge = ImageJudge(catalog)
        if self._snapshot is not None:
            judge.warm(self._snapshot.judge)  # before the swap: no review pays for it
        self._snapshot = CatalogSnapshot(catalog, digest, self._clock(), str(self.path), judge)
        self.error = self.error_at = None
        self.reloads += 1
        log.info(
            "catalog %s loaded: %d entries, sha256 %s",
            self.path,
            len(catalog.entries),
            digest[:12],
        )

    def _failed(self, message: str) -> None:
        repeated = message == self.error
        self.error = message
        if repeated:
            return  # logged when it first happened
        self.error_at = self._clock()
        if self._snapshot is not None:
            log.error(
                "catalog %s: %s; still serving the last good catalog (sha256 %s)",
                self.path,
                message,
                self._snapshot.sha256[:12],
            )
        else:
            log.error("catalog %s: %s", self.path, message)

    @property
    def stale(self) -> bool:
        """True when a good catalog is served but the file now holds something unreadable."""
        return self._snapshot is not None and self.error is not None

    def status(self) -> dict[str, Any]:
        """For ``/readyz``: what is loaded (after any due reload), and the last error."""
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


def _child(argv: list[str]) -> int:
    """``python -m baseguard.server.catalog_cache SOURCE``: catalog.yaml text on stdin, the
    validated catalog (or the error) as JSON on stdout."""
    from baseguard.catalog.spec import loads_catalog

    source = argv[0] if argv else "<catalog>"
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
        out: dict[str, Any] = {"catalog": loads_catalog(text, source).to_dict()}
    except UnicodeDecodeError as exc:
        out = {"error": f"{source}: not UTF-8 text (byte {exc.start})"}
    except BaseguardError as exc:
        out = {"error": exc.message, "hint": exc.hint}
    sys.stdout.write(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1:]))
