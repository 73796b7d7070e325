"""newfile.mkstemp: a temporary file that gets the mode of any new file (0644 less the umask),
asked of the kernel at creation, so the process umask is never changed."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from baseguard import newfile


@pytest.fixture
def umask_027() -> Iterator[int]:
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


def test_the_file_gets_0644_less_the_umask(tmp_path: Path, umask_027: int) -> None:
    fd, name = newfile.mkstemp(dir=tmp_path, prefix=".x.", suffix=".part")
    os.close(fd)
    path = Path(name)
    assert path.parent == tmp_path and path.name.startswith(".x.") and name.endswith(".part")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # 0644 & ~027


def test_names_are_fresh_and_files_new(tmp_path: Path) -> None:
    names = set()
    for _ in range(50):
        fd, name = newfile.mkstemp(dir=tmp_path)
        os.write(fd, b"x")
        os.close(fd)
        names.add(name)
    assert len(names) == 50 and all(Path(n).read_bytes() == b"x" for n in names)


def test_it_never_opens_an_existing_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "taken").symlink_to(victim)
    tokens = iter(["taken", "free"])
    monkeypatch.setattr(newfile.secrets, "token_hex", lambda n: next(tokens))
    fd, name = newfile.mkstemp(dir=tmp_path)
    os.close(fd)
    assert Path(name).name == "free"
    assert victim.read_text() == "keep"


def test_the_umask_is_never_changed_while_it_works(tmp_path: Path, umask_027: int) -> None:
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            now = os.umask(0o027)  # reading the umask means setting it; set it back as it was
            seen.append(now)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(200):
            fd, _name = newfile.mkstemp(dir=tmp_path)
            os.close(fd)
    finally:
        stop.set()
        watcher.join()
    assert seen and set(seen) == {0o027}
