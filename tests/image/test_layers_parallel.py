"""Indexing several layers at once gives what indexing them one by one gives, errors included.

``build_fs`` reads an image's layers on a small thread pool and merges them in order; these
tests pin that the merged index, warnings, captures, limits and the error raised do not
depend on that, and that a failing layer stops the others.
"""

from __future__ import annotations

import random
import tarfile
import threading
from typing import IO

import pytest

from baseguard.errors import DigestMismatchError, LayerError, LimitExceededError
from baseguard.image import layers
from baseguard.image.layers import Limits, build_fs
from baseguard.image.model import Image
from tests.image.layer_builders import (
    CountingBytesIO,
    MemoryBlobStore,
    TarBuilder,
    compress,
    gzip_zeros_after,
    image_from_blobs,
    make_image,
    tar_header,
    zstd_zeros_after,
)

MiB = 1 << 20


def index_with(
    workers: int, image: Image, monkeypatch: pytest.MonkeyPatch, **kwargs: object
) -> tuple[object, ...]:
    """build_fs with ``workers`` layers at once: the whole outcome, or the error raised."""
    monkeypatch.setattr(layers, "LAYER_WORKERS", workers)
    try:
        fs = build_fs(image, **kwargs)  # type: ignore[arg-type]
    except LimitExceededError as exc:
        # Which layer passed which limit is the same however the layers were read; the
        # member named can differ (a reader beside unfinished lower layers stops later).
        where, _, rest = exc.message.partition("): ")
        return (type(exc).__name__, where, rest.rpartition("(limit ")[2])
    except (LayerError, DigestMismatchError) as exc:
        return (type(exc).__name__, exc.message)
    return (
        "ok",
        sorted(fs.entries.items()),
        fs.warnings,
        fs.captured,
        fs.uncompressed_size,
    )


def random_layer(rng: random.Random, names: list[str]) -> bytes:
    """A layer that adds, replaces, hides, links and breaks paths drawn from ``names``."""
    tar = TarBuilder()
    for _ in range(rng.randint(1, 25)):
        name = rng.choice(names)
        pick = rng.random()
        if pick < 0.35:
            tar.file(name, rng.randbytes(rng.randint(0, 300)))
        elif pick < 0.5:
            tar.dir(name)
        elif pick < 0.6:
            tar.symlink(name, rng.choice(names))
        elif pick < 0.7:
            tar.hardlink(name, rng.choice(names))
        elif pick < 0.8:
            tar.whiteout(name)
        elif pick < 0.85:
            tar.opaque(name.rpartition("/")[0] or name)
        elif pick < 0.9:
            tar.file("../" + name, b"escape")
        elif pick < 0.95:
            tar.device(name)
        else:
            tar.file("/" + name, b"absolute")
    return tar.build()


def test_random_images_index_the_same_one_by_one_and_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [f"{d}/{f}" for d in ("etc", "usr/lib", "lib", "x") for f in ("a", "b", "c")]
    names += ["etc", "usr", "usr/lib", "lib", "x", "x/y/z"]
    rng = random.Random(7)
    with_warnings = 0
    for _ in range(60):
        tars = [random_layer(rng, names) for _ in range(rng.randint(2, 6))]
        kinds = [rng.choice(["gzip", "zstd", "tar"]) for _ in tars]
        image, _ = make_image(*tars, compression=kinds)
        kwargs = {"capture": ["etc/*", "lib/**"], "limits": Limits(max_files=60)}
        one = index_with(1, image, monkeypatch, **kwargs)
        many = index_with(4, image, monkeypatch, **kwargs)
        assert one == many
        with_warnings += one[0] == "ok" and bool(one[2])
    assert with_warnings > 10  # the images did make warnings to compare


def slow_then_corrupt() -> bytes:
    """A gzip layer whose tar is damaged only near its end (a header about 5 MiB in)."""
    rng = random.Random(3)
    tar = TarBuilder(tarfile.USTAR_FORMAT)
    for i in range(600):
        tar.file(f"big/{i:04}", rng.randbytes(8192))
    good = tar.build()
    cut = 590 * (512 + 8192)  # the 591st member's header
    return compress(good[:cut] + b"\xff" * 512 + good[cut + 512 :], "gzip")


@pytest.mark.parametrize("workers", [1, 3])
def test_the_lowest_failing_layer_is_the_error_even_if_a_higher_one_fails_first(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = compress(TarBuilder().file("ok", b"1").build(), "gzip")
    fast_bad = b"\x00\x01garbage" * 100  # fails at its first header
    image = image_from_blobs([good, slow_then_corrupt(), fast_bad])
    monkeypatch.setattr(layers, "LAYER_WORKERS", workers)
    with pytest.raises(LayerError) as info:
        build_fs(image)
    assert f"layer 1 ({image.layers[1].digest})" in info.value.message


@pytest.mark.parametrize("workers", [1, 3])
def test_a_digest_mismatch_in_a_higher_layer_is_reported_after_good_lower_ones(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = TarBuilder().file("a", random.Random(1).randbytes(2 * MiB)).build()
    t1 = TarBuilder().file("b", b"b").build()
    blobs = [compress(t0, "gzip"), compress(t1, "gzip")]
    image = image_from_blobs(blobs, digests=[None, "sha256:" + "ab" * 32])  # type: ignore[list-item]
    monkeypatch.setattr(layers, "LAYER_WORKERS", workers)
    with pytest.raises(DigestMismatchError, match=r"layer 1 \(sha256:abab"):
        build_fs(image)


def test_a_failing_layer_stops_the_layers_read_beside_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(layers, "LAYER_WORKERS", 2)
    store = MemoryBlobStore()
    bad = slow_then_corrupt()  # long enough for the reader beside it to have started
    # 4 GiB of zeros in a few hundred KiB of zstd: minutes of inflating if nothing stops it.
    huge = zstd_zeros_after(tar_header("zeros", 4 << 30), 4 << 30)
    image = image_from_blobs([bad, huge], store=store)
    opened: dict[str, IO[bytes]] = {}
    open_blob = store.open_blob

    def record(digest: str) -> IO[bytes]:
        opened[digest] = open_blob(digest)
        return opened[digest]

    monkeypatch.setattr(store, "open_blob", record)
    with pytest.raises(LayerError, match="layer 0"):
        build_fs(image)
    huge_handle = opened[image.layers[1].digest]
    assert isinstance(huge_handle, CountingBytesIO)
    assert 0 < huge_handle.bytes_read < len(huge)  # started, then cancelled part way
    assert [t for t in threading.enumerate() if t.name.startswith("baseguard-layer")] == []


@pytest.mark.parametrize("workers", [1, 3])
def test_file_limit_across_layers_names_the_same_layer_however_read(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    tars = [TarBuilder().dir(f"d{n}").build() if n == 2 else _files(f"d{n}", 40) for n in range(4)]
    image, _ = make_image(*tars)
    monkeypatch.setattr(layers, "LAYER_WORKERS", workers)
    for _ in range(5 if workers > 1 else 1):  # the threads race differently each time
        with pytest.raises(LimitExceededError) as info:
            build_fs(image, limits=Limits(max_files=100))
        assert f"layer 3 ({image.layers[3].digest})" in info.value.message
        assert "max_files = 100" in info.value.message


def _files(directory: str, count: int) -> bytes:
    tar = TarBuilder()
    for i in range(count - 1):
        tar.file(f"{directory}/{i}", b"x")
    return tar.dir(directory).build()


@pytest.mark.parametrize("workers", [1, 3])
def test_byte_limit_across_layers_names_the_layer_that_passes_it(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(5)
    tars = [TarBuilder().file(f"f{n}", rng.randbytes(400 << 10)).build() for n in range(4)]
    image, _ = make_image(*tars, compression="zstd")
    monkeypatch.setattr(layers, "LAYER_WORKERS", workers)
    for _ in range(5 if workers > 1 else 1):
        with pytest.raises(LimitExceededError) as info:
            build_fs(image, limits=Limits(max_uncompressed_bytes=1 * MiB))
        assert f"layer 2 ({image.layers[2].digest})" in info.value.message


def test_captures_stay_within_their_total_when_layers_are_read_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(9)
    tars = [TarBuilder().file(f"etc/f{n}", rng.randbytes(1000)).build() for n in range(4)]
    image, _ = make_image(*tars)
    monkeypatch.setattr(layers, "LAYER_WORKERS", 4)
    fs = build_fs(image, capture=["etc/*"], limits=Limits(max_capture_total=2500))
    assert sum(len(v) for v in fs.captured.values()) <= 2500
    assert len(fs.captured) == 2
    skipped = [w for w in fs.warnings if "max_capture_total" in w]
    assert len(skipped) == 2
    # The files not captured are still readable, lazily, from their layers.
    contents = fs.read_many([p for p in fs.entries if p.startswith("etc/")])
    assert sorted(len(c) for c in contents.values()) == [1000] * 4


def test_an_interrupt_while_waiting_stops_every_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ctrl-C reaches the caller's thread while it waits for the readers (here raised by the
    # progress callback it polls, once a bomb layer is part read): the readers beside it
    # stop part way and are joined; nothing is left running.
    monkeypatch.setattr(layers, "LAYER_WORKERS", 2)
    monkeypatch.setattr(layers, "PROGRESS_POLL", 0.01)
    small = compress(TarBuilder().file("a", b"1").build(), "gzip")
    huge = gzip_zeros_after(tar_header("zeros", 4 << 30), 4 << 30)  # about 4 MiB of gzip
    store = MemoryBlobStore()
    image = image_from_blobs([small, huge], store=store)

    def interrupt(done: int, total: int) -> None:
        if done > len(small) + MiB:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_fs(image, progress=interrupt)
    assert [t for t in threading.enumerate() if t.name.startswith("baseguard-layer")] == []
    assert store.bytes_read < len(small) + len(huge)
