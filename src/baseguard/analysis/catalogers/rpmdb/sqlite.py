"""rpm's SQLite package database (``rpmdb.sqlite``: RHEL/UBI 9, Fedora >= 33, rpm >= 4.16).

The ``Packages`` table holds one header blob per row (``hnum INTEGER PRIMARY KEY, blob``).
The bytes are loaded into an in-memory database (``deserialize``), never a file, with the
schema untrusted (no triggers or views run on our behalf) and a step budget so a crafted
file cannot make a query run away. rpm keeps the file in WAL mode; the in-memory copy is
switched to the rollback journal (header bytes 18-19), which reads the same pages. Rows
still only in a ``-wal`` file that was never checkpointed are not seen.
"""

from __future__ import annotations

import sqlite3

from baseguard.analysis.catalogers.rpmdb.errors import RpmdbError

MAGIC = b"SQLite format 3\x00"
#: Virtual-machine steps per byte of database (at least MIN_STEPS) before giving up.
STEPS_PER_BYTE = 64
MIN_STEPS = 10_000_000
STEP_GRANULARITY = 1000


def read_sqlite(data: bytes) -> tuple[list[bytes], list[str]]:
    """The header blobs of ``rpmdb.sqlite``, in ``hnum`` order, and per-row problems."""
    if not data.startswith(MAGIC):
        raise RpmdbError("not an SQLite database (no 'SQLite format 3' magic)")
    if len(data) < 100:
        raise RpmdbError(f"{len(data)} bytes is too short for an SQLite header")
    image = bytearray(data)
    if image[18] == 2 or image[19] == 2:  # WAL: in-memory databases cannot use it
        image[18] = image[19] = 1
    conn = sqlite3.connect(":memory:")
    conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
    try:
        budget = [max(len(data) * STEPS_PER_BYTE, MIN_STEPS) // STEP_GRANULARITY]

        def tick() -> int:
            budget[0] -= 1
            return 1 if budget[0] < 0 else 0

        conn.set_progress_handler(tick, STEP_GRANULARITY)
        try:
            conn.deserialize(bytes(image))
            conn.execute("PRAGMA trusted_schema = OFF")
            conn.execute("PRAGMA query_only = ON")
            kind = conn.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
            if kind is None or kind[0] != "table":
                raise RpmdbError("no Packages table: not an rpm database")
            rows = conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
        except sqlite3.OperationalError as exc:
            if budget[0] < 0:
                raise RpmdbError("reading the database took too many steps; abandoned") from exc
            raise RpmdbError(f"unreadable SQLite database: {exc}") from exc
        except (sqlite3.Error, ValueError) as exc:
            # ValueError: SQLite's own error message quoted undecodable schema bytes.
            raise RpmdbError(f"unreadable SQLite database: {exc}") from exc
    finally:
        conn.close()
    blobs: list[bytes] = []
    errors: list[str] = []
    for hnum, blob in rows:
        if isinstance(blob, bytes):
            blobs.append(blob)
        else:
            errors.append(f"row {hnum}: blob is {type(blob).__name__}, not bytes")
    return blobs, errors
