"""The content-addressed blob cache: layout, verification on store, size check on hit."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from baseguard.errors import DigestMismatchError, ImageError
from baseguard.image.cache import BlobCache, default_cache_dir

DATA = b"layer bytes " * 1000
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
WRONG = "sha256:" + hashlib.sha256(b"something else").hexdigest()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_path_is_blobs_algo_hex(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    assert cache.path_for(DIGEST) == tmp_path / "blobs" / "sha256" / DIGEST.split(":")[1]


def test_path_for_rejects_malformed_digests(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    for bad in ("sha256:../../etc/passwd", "md5:abc", "sha256:" + "g" * 64, "../x"):
        with pytest.raises(ImageError):
            cache.path_for(bad)


def test_env_var_overrides_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BASEGUARD_CACHE_DIR", str(tmp_path / "c"))
    assert BlobCache().root == tmp_path / "c"
    assert default_cache_dir({}) == Path(platformdirs.user_cache_dir("baseguard"))


def test_store_stream_writes_verified_blob(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    chunks = [DATA[i : i + 777] for i in range(0, len(DATA), 777)]
    path = cache.store_stream(DIGEST, iter(chunks), size=len(DATA))
    assert path == cache.path_for(DIGEST)
    assert path.read_bytes() == DATA
    assert cache.has(DIGEST) and cache.has(DIGEST, len(DATA))
    with cache.open(DIGEST) as fh:
        assert fh.read() == DATA
    assert _files(tmp_path) == [path]


def test_mismatch_raises_and_leaves_nothing(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    with pytest.raises(DigestMismatchError, match="does not match its digest"):
        cache.store_stream(WRONG, [DATA])
    assert not cache.has(WRONG)
    assert _files(tmp_path) == []


def test_more_bytes_than_declared_size_is_refused_early(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    sent: list[int] = []

    def endless() -> Iterator[bytes]:
        while True:
            sent.append(1)
            yield b"x" * 1024

    with pytest.raises(DigestMismatchError, match="more bytes than the 4096"):
        cache.store_stream(DIGEST, endless(), size=4096)
    assert len(sent) == 5
    assert _files(tmp_path) == []


def test_fewer_bytes_than_declared_size_is_refused(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    with pytest.raises(DigestMismatchError, match="declares"):
        cache.store_stream(DIGEST, [DATA], size=len(DATA) + 1)
    assert _files(tmp_path) == []


def test_an_error_mid_stream_removes_the_partial_file(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)

    def broken() -> Iterator[bytes]:
        yield DATA[:100]
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        cache.store_stream(DIGEST, broken())
    assert _files(tmp_path) == []


def test_hit_with_wrong_size_is_a_miss_and_drops_the_file(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    cache.store_bytes(DIGEST, DATA)
    path = cache.path_for(DIGEST)
    path.write_bytes(DATA[:10])  # damaged behind our back
    assert cache.has(DIGEST)  # no size to compare: present
    assert not cache.has(DIGEST, len(DATA))
    assert not path.exists()


def test_storing_again_replaces_atomically(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    first = cache.store_bytes(DIGEST, DATA)
    second = cache.store_bytes(DIGEST, DATA)
    assert first == second and second.read_bytes() == DATA
    assert _files(tmp_path) == [second]


def test_sha512_blobs_are_supported(tmp_path: Path) -> None:
    digest = "sha512:" + hashlib.sha512(DATA).hexdigest()
    path = BlobCache(tmp_path).store_bytes(digest, DATA)
    assert path.parent.name == "sha512"


def test_remove_and_size_of(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    assert cache.size_of(DIGEST) is None
    cache.store_bytes(DIGEST, DATA)
    assert cache.size_of(DIGEST) == len(DATA)
    cache.remove(DIGEST)
    cache.remove(DIGEST)
    assert not cache.has(DIGEST)
