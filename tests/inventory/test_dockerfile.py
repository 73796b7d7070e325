"""Dockerfiles through BuildKit's parser: stages, ARGs, build images and the base image."""

from __future__ import annotations

from pathlib import Path

import pytest

from baseguard.inventory.sources.base import ScanContext
from baseguard.inventory.sources.dockerfile import DockerfileSource, expand


def scan(text: str, tmp_path: Path, **build_args: str) -> list[tuple[str, str, int | None]]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = DockerfileSource().scan(path, text, ScanContext(build_args=build_args, root=tmp_path))
    return [(u.reference, u.role, u.location.line) for u in result.uses]


def test_single_stage_base_is_normalised(tmp_path: Path) -> None:
    assert scan("FROM alpine:3.20\nRUN true\n", tmp_path) == [
        ("docker.io/library/alpine:3.20", "base", 1)
    ]


def test_final_stage_is_the_base_and_earlier_stages_are_build_images(tmp_path: Path) -> None:
    text = "FROM golang:1.22 AS build\nRUN go build\nFROM gcr.io/distroless/static:nonroot\n"
    assert scan(text, tmp_path) == [
        ("docker.io/library/golang:1.22", "build", 1),
        ("gcr.io/distroless/static:nonroot", "base", 3),
    ]


def test_stage_alias_is_not_an_image_and_the_chain_is_followed(tmp_path: Path) -> None:
    text = "FROM debian:12 AS base\nRUN apt-get update\nFROM base AS app\nCOPY . /app\nFROM app\n"
    assert scan(text, tmp_path) == [("docker.io/library/debian:12", "base", 1)]


def test_scratch_is_not_an_image(tmp_path: Path) -> None:
    text = "FROM golang:1.22 AS b\nFROM scratch\nCOPY --from=b /x /x\n"
    assert scan(text, tmp_path) == [("docker.io/library/golang:1.22", "build", 1)]


def test_global_arg_defaults_and_build_arg_overrides(tmp_path: Path) -> None:
    text = "ARG TAG=3.19\nARG REG=docker.io\nFROM ${REG}/library/alpine:$TAG\n"
    assert scan(text, tmp_path)[0][0] == "docker.io/library/alpine:3.19"
    assert scan(text, tmp_path, TAG="3.20")[0][0] == "docker.io/library/alpine:3.20"


def test_unset_arg_is_reported_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    text = "ARG BASE\nFROM $BASE\n"
    result = DockerfileSource().scan(path, text, ScanContext(root=tmp_path))
    assert result.uses == []
    assert "BASE has no value" in result.issues[0].message
    assert result.issues[0].line == 2


def test_copy_from_and_run_mount_from_images_are_build_images(tmp_path: Path) -> None:
    text = (
        "FROM alpine:3.20 AS tools\n"
        "FROM debian:12\n"
        "COPY --from=nginx:1.27 /etc/nginx /etc/nginx\n"
        "COPY --from=tools /bin/busybox /bin/\n"
        "COPY --from=0 /etc/os-release /x\n"
        "RUN --mount=type=bind,from=busybox:1.36,source=/bin,target=/b true\n"
    )
    found = scan(text, tmp_path)
    assert ("docker.io/library/nginx:1.27", "build", 3) in found
    assert ("docker.io/library/busybox:1.36", "build", 6) in found
    assert ("docker.io/library/debian:12", "base", 2) in found
    assert len(found) == 4  # tools and 0 are stages, not images


def test_from_platform_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    text = "FROM --platform=linux/arm64 alpine:3.20\n"
    use = DockerfileSource().scan(path, text, ScanContext(root=tmp_path)).uses[0]
    assert use.platform == "linux/arm64"


def test_digest_reference_is_kept(tmp_path: Path) -> None:
    digest = "sha256:" + "a" * 64
    assert scan(f"FROM alpine@{digest}\n", tmp_path)[0][0] == f"docker.io/library/alpine@{digest}"


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": "y"}, "y"),
        ("${A:+x}", {"A": "y"}, "x"),
        ("${A:+x}", {}, ""),
        ("$A/$B", {"A": "1", "B": "2"}, "1/2"),
    ],
)
def test_variable_expansion_forms(value: str, args: dict[str, str], expected: str) -> None:
    assert expand(value, args)[0] == expected


@pytest.mark.parametrize(
    "name", ["Dockerfile", "api.Dockerfile", "Dockerfile.prod", "Containerfile"]
)
def test_recognised_names(name: str) -> None:
    assert DockerfileSource().claims(Path(name), b"")


def test_other_names_are_not_claimed() -> None:
    assert not DockerfileSource().claims(Path("README.md"), b"FROM alpine")
