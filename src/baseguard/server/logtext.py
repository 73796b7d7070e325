"""Client-supplied text made safe for one log line.

A request's uid, object name or image is the client's to choose; logged as it is, a newline
in it forges log lines, escape sequences drive terminals, and megabytes of it fill the log.
"""

from __future__ import annotations

#: How much of one client-supplied value a log line carries.
MAX_LOGGED_CHARS = 200


def log_text(value: object, limit: int = MAX_LOGGED_CHARS) -> str:
    """``value`` as printable ASCII on one line (control characters and non-ASCII as ``\\x..``
    / ``\\u....`` escapes), cut to ``limit`` characters with ``…`` and the full length."""
    text = str(value)
    cut = text[:limit]
    shown = "".join(
        ch
        if " " <= ch <= "~"
        else ch.encode("ascii", "backslashreplace").decode("ascii")
        if ord(ch) > 0x7F
        else f"\\x{ord(ch):02x}"
        for ch in cut
    )
    return shown if len(text) <= limit else f"{shown}… ({len(text)} characters)"
