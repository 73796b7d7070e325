"""Opening images from every local source form, with real archives and layouts."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from baseguard.errors import (
    DigestMismatchError,
    ImageError,
    ImageNotFoundError,
    LimitExceededError,
    PlatformError,
)
from baseguard.image.model import Platform
from baseguard.image.source import OpenOptions, open_image, split_transport
from baseguard.image.write import write_oci_layout
from tests.conftest import realdata_path

ALPINE_310_CONFIG = "sha256:af341ccd2df8b0e2d67cf8dd32e087bfda4e5756ebd1c76bbf3efa0dc246590e"


def _gunzip(src: Path, dest: Path) -> Path:
    dest.write_bytes(gzip.decompress(src.read_bytes()))
    return dest


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("oci:/a/b:tag", ("oci", "/a/b:tag")),
        ("oci-archive:x.tar", ("oci-archive", "x.tar")),
        ("docker-archive:x.tar:@1", ("docker-archive", "x.tar:@1")),
        ("dir:/rootfs", ("dir", "/rootfs")),
        ("docker://alpine", ("docker", "alpine")),
        ("registry:alpine", ("registry", "alpine")),
        ("alpine:3.20", ("", "alpine:3.20")),
    ],
)
def test_split_transport_recognises_skopeo_prefixes(ref: str, expected: tuple[str, str]) -> None:
    assert split_transport(ref) == expected


def test_multiplatform_layout_defaults_to_linux_amd64() -> None:
    layout = realdata_path("images", "oci", "multiplatform_oci_dir")
    with open_image(f"oci:{layout}") as image:
        assert str(image.platform) == "linux/amd64"
        assert image.manifest_digest == (
            "sha256:e7c26a4b4d156fd9947ee82295b7b78acf7aa54b93b8f3e4b9f608179ffb20e8"
        )
        # The top-level index points at a nested index: both hops are walked.
        assert image.index_digest is None or image.index_digest.startswith("sha256:")
        assert image.name == "docker.io/library/multi-platform:latest"
        assert len(image.layers) == 1


def test_multiplatform_layout_selects_arm64_when_asked() -> None:
    layout = realdata_path("images", "oci", "multiplatform_oci_dir")
    opts = OpenOptions(platform=Platform.parse("linux/arm64"))
    with open_image(f"oci:{layout}", opts) as image:
        assert str(image.platform) == "linux/arm64"
        assert image.layers[0].digest == (
            "sha256:1803d4b442b422fa8380e13687da6cc408e6db8f173baa89c95d08539083e8dd"
        )


def test_missing_platform_error_lists_available_platforms() -> None:
    layout = realdata_path("images", "oci", "multiplatform_oci_dir")
    with pytest.raises(PlatformError) as info:
        open_image(f"oci:{layout}", OpenOptions(platform=Platform.parse("linux/s390x")))
    assert "linux/s390x" in info.value.message
    assert info.value.hint is not None
    assert "linux/amd64" in info.value.hint and "linux/arm64" in info.value.hint


def test_bare_layout_directory_is_detected() -> None:
    layout = realdata_path("images", "oci", "multiplatform_oci_dir")
    with open_image(str(layout)) as image:
        assert image.source == "oci"


def test_oci_archive_opens_by_prefix_and_by_detection() -> None:
    archive = realdata_path("images", "oci", "valid-oci.tar")
    for ref in (f"oci-archive:{archive}", str(archive)):
        with open_image(ref) as image:
            assert image.source == "oci-archive"
            assert image.manifest_digest == (
                "sha256:c1ed04a3da941a5dd09b58b16c37f065557863d382ef97995ddac885a8452ebb"
            )
            assert image.name == "sample:latest"


def test_gzipped_docker_archive_opens_and_names_the_image() -> None:
    archive = realdata_path("images", "docker-archive", "alpine-310.tar.gz")
    with open_image(f"docker-archive:{archive}") as image:
        assert image.source == "docker-archive"
        assert image.config_digest == ALPINE_310_CONFIG
        assert image.name is not None and "alpine" in image.name
        assert str(image.platform) == "linux/amd64"
        assert len(image.layers) == 1
        # An uncompressed layer.tar is named by its diff_id.
        assert image.layers[0].digest == image.config.diff_ids[0]


def test_docker_25_save_with_oci_and_docker_layouts_opens(tmp_path: Path) -> None:
    archive = realdata_path("images", "docker-archive", "hello-world-v25-arm64.tar")
    with open_image(str(archive)) as image:
        assert image.source == "docker-archive"
        assert str(image.platform) == "linux/arm64"
        assert image.layers[0].digest == (
            "sha256:12660636fe55438cc3ae7424da7ac56e845cdb52493ff9cf949c47a7f57f8b43"
        )


def test_explicit_platform_mismatch_on_single_platform_archive_is_refused() -> None:
    archive = realdata_path("images", "docker-archive", "hello-world-v25-arm64.tar")
    with pytest.raises(PlatformError) as info:
        open_image(f"docker-archive:{archive}", OpenOptions(platform=Platform.parse("linux/amd64")))
    assert "linux/arm64" in (info.value.hint or "")


@pytest.fixture
def two_image_archive(tmp_path: Path) -> Path:
    """A `docker save` of two images, assembled from the two real Alpine archives."""
    out = tmp_path / "two.tar"
    manifests = []
    with tarfile.open(out, "w") as dest:
        for name in ("alpine-310.tar.gz", "alpine-311.tar.gz"):
            src = _gunzip(realdata_path("images", "docker-archive", name), tmp_path / name[:-3])
            with tarfile.open(src) as tar:
                for info in tar:
                    if info.name == "manifest.json":
                        manifests.extend(json.load(tar.extractfile(info)))  # type: ignore[arg-type]
                    elif info.name != "repositories":
                        dest.addfile(info, tar.extractfile(info) if info.isreg() else None)
        _add(dest, "manifest.json", json.dumps(manifests).encode())
    return out


def test_multi_image_archive_requires_a_choice_and_lists_images(two_image_archive: Path) -> None:
    with pytest.raises(ImageError) as info:
        open_image(f"docker-archive:{two_image_archive}")
    assert "2 images" in info.value.message
    assert "@0" in (info.value.hint or "") and "@1" in (info.value.hint or "")


def test_multi_image_archive_selects_by_index_and_by_tag(two_image_archive: Path) -> None:
    with open_image(f"docker-archive:{two_image_archive}:@0") as first:
        first_config = first.config_digest
    with open_image(f"docker-archive:{two_image_archive}:@1") as second:
        assert second.config_digest != first_config
        tag = second.name
    assert tag is not None
    with open_image(f"docker-archive:{two_image_archive}:{tag}") as by_tag:
        assert by_tag.config_digest == second.config_digest


def test_unknown_selector_names_what_exists(two_image_archive: Path) -> None:
    with pytest.raises(ImageError) as info:
        open_image(f"docker-archive:{two_image_archive}:@7")
    assert "@7" in info.value.message


def test_tampered_docker_archive_config_is_refused(tmp_path: Path) -> None:
    src = _gunzip(
        realdata_path("images", "docker-archive", "alpine-310.tar.gz"), tmp_path / "a.tar"
    )
    bad = tmp_path / "tampered.tar"
    with tarfile.open(src) as tar, tarfile.open(bad, "w") as out:
        for info in tar:
            data = tar.extractfile(info).read() if info.isreg() else None  # type: ignore[union-attr]
            if info.name.endswith(".json") and info.name != "manifest.json" and data:
                data = data.replace(b'"User":""', b'"User":"x"').replace(b"/bin/sh", b"/bin/xx")
                info.size = len(data)
            out.addfile(info, io.BytesIO(data) if data is not None else None)
    with pytest.raises(DigestMismatchError) as info_:
        open_image(f"docker-archive:{bad}")
    assert "does not match" in info_.value.message


def test_rootfs_tarball_is_a_one_layer_image() -> None:
    tarball = realdata_path("images", "alpine-minirootfs", "alpine-minirootfs-3.20.3-x86_64.tar.gz")
    with open_image(str(tarball)) as image:
        assert image.source == "rootfs-archive"
        assert len(image.layers) == 1
        assert image.layers[0].digest == (
            "sha256:d4e6fd67dcf75e40c451560ac7265166c2b72a0f38ddc9aae756a7de3d1efa0c"
        )


def test_written_layout_round_trips(tmp_path: Path) -> None:
    layer = tmp_path / "layer.tar"
    with tarfile.open(layer, "w") as tar:
        _add(tar, "etc/hello", b"hi\n")
    digest = write_oci_layout(tmp_path / "layout", [layer], tag="v1", config={"User": "1000"})
    with open_image(f"oci:{tmp_path / 'layout'}:v1") as image:
        assert image.manifest_digest == digest
        assert image.config.user == "1000"
    with pytest.raises(ImageError) as info:
        open_image(f"oci:{tmp_path / 'layout'}:v2")
    assert "v2" in info.value.message and "v1" in (info.value.hint or "")


def test_dir_source_points_at_the_directory(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    with open_image(f"dir:{tmp_path}") as image:
        assert image.source == "dir"
        assert image.root_dir == tmp_path.resolve()
        assert image.layers == []


def test_missing_path_is_a_clear_not_found(tmp_path: Path) -> None:
    with pytest.raises(ImageNotFoundError) as info:
        open_image(f"oci:{tmp_path / 'nope'}")
    assert "nope" in info.value.message
    with pytest.raises(ImageNotFoundError):
        open_image(str(tmp_path / "missing.tar"))


def test_non_image_file_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n" * 200)
    with pytest.raises(ImageError) as info:
        open_image(str(junk))
    assert "not an image" in info.value.message


def test_truncated_archive_is_refused_and_scratch_removed(tmp_path: Path) -> None:
    src = realdata_path("images", "docker-archive", "alpine-310.tar.gz")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(src.read_bytes()[:200_000])
    with pytest.raises(ImageError) as info:
        open_image(f"docker-archive:{cut}")
    assert "truncated or corrupt" in info.value.message


def test_gzip_bomb_archive_stops_at_the_cap(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as fh:
        zeros = b"\0" * (1 << 20)
        for _ in range(64):  # 64 MiB of zeros, about 64 KiB on disk
            fh.write(zeros)
    with pytest.raises(LimitExceededError) as info:
        open_image(f"docker-archive:{bomb}", OpenOptions(max_archive_bytes=8 << 20))
    assert "decompresses to more than" in info.value.message
