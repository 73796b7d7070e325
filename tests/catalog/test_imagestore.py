"""The local image store (``--images``): an OCI layout read for the references it tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baseguard.catalog.imagestore import ImageStore
from baseguard.errors import ImageError
from tests.cli_runner import run_baseguard
from tests.conftest import PROJECT


def _store(tmp_path: Path, index: object) -> Path:
    (tmp_path / "index.json").write_text(json.dumps(index), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ([1, 2], "not an OCI index (not a JSON object)"),
        ({"manifests": "x"}, "not an OCI index ('manifests' is not a list)"),
        ({"manifests": [7]}, "manifests[0] is not an object"),
    ],
)
def test_index_of_the_wrong_shape_is_an_image_error_naming_the_file(
    tmp_path: Path, index: object, message: str
) -> None:
    with pytest.raises(ImageError) as err:
        ImageStore(_store(tmp_path, index))
    assert err.value.message == f"{tmp_path / 'index.json'}: {message}"


def test_entries_without_a_usable_name_are_skipped(tmp_path: Path) -> None:
    store = ImageStore(
        _store(
            tmp_path,
            {
                "manifests": [
                    {"annotations": "x"},
                    {"annotations": {"org.opencontainers.image.ref.name": 5}},
                    {"annotations": {"org.opencontainers.image.ref.name": "alpine:3.20"}},
                ]
            },
        )
    )
    assert store.refs == {"docker.io/library/alpine:3.20": "alpine:3.20"}


def test_fix_with_a_malformed_image_store_exits_2_naming_it(tmp_path: Path) -> None:
    _store(tmp_path, [1, 2])
    done = run_baseguard(
        "fix",
        str(PROJECT / "examples" / "estate" / "web" / "Dockerfile"),
        "--catalog",
        str(PROJECT / "examples" / "catalog.yaml"),
        "--images",
        str(tmp_path),
        "--offline",
    )
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert f"{tmp_path / 'index.json'}: not an OCI index" in done.stderr
