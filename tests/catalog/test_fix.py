"""fix: golden diffs on crafted Dockerfiles (aliases, --platform, ARG bases, CRLF, escape
directive, continuation lines, comments), refusals, exit codes, and --write atomicity."""

from __future__ import annotations

import os
import stat
from datetime import date
from pathlib import Path

import pytest

from baseguard.catalog import fix as fix_module
from baseguard.catalog.compare import Measurer
from baseguard.catalog.fix import FixError, fix_file, write_fix
from baseguard.catalog.imagestore import ImageStore
from baseguard.catalog.spec import loads_catalog
from tests.catalog.test_recommend_helpers import (
    ALPINE_320_DIGEST,
    CATALOG,
    DAY,
    IMAGES,
    STATIC,
    STATIC_DIGEST,
    make_env,
    run,
    write_catalog,
)
from tests.cli_runner import run_baseguard


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_env(tmp_path_factory.mktemp("env"))


@pytest.fixture(scope="module")
def catalog_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_catalog(tmp_path_factory.mktemp("catalog"))


NEW_ALPINE = f"alpine:3.20@{ALPINE_320_DIGEST}"
NEW_STATIC = f"{STATIC}@{STATIC_DIGEST}"


def fix(
    env: dict[str, str], catalog: Path, cwd: Path, *files: str, extra: tuple[str, ...] = ()
) -> tuple[int, bytes, str]:
    done = run_baseguard(
        *("fix", *files, "--catalog", str(catalog), "--images", str(IMAGES)),
        *("--offline", "--date", DAY, *extra),
        cwd=cwd,
        env=env,
        timeout=300,
        text=False,  # bytes as written: the CRLF goldens compare line endings
    )
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr
    return done.returncode, done.stdout, stderr


# --------------------------------------------------------------------------- golden diffs

MULTI_STAGE = """\
# syntax=docker/dockerfile:1
# Build on the old Alpine.
FROM --platform=$BUILDPLATFORM alpine:3.10 AS build
RUN echo building > /out

# The runtime stage.
FROM \\
    # continued, with a comment inside
    alpine:3.10 AS runtime
COPY --from=build /out /out
CMD ["/bin/cat", "/out"]
"""

MULTI_STAGE_DIFF = "".join(
    line + "\n"
    for line in [
        "--- a/Dockerfile",
        "+++ b/Dockerfile",
        "@@ -1,11 +1,11 @@",
        " # syntax=docker/dockerfile:1",
        " # Build on the old Alpine.",
        "-FROM --platform=$BUILDPLATFORM alpine:3.10 AS build",
        f"+FROM --platform=$BUILDPLATFORM {NEW_ALPINE} AS build",
        " RUN echo building > /out",
        " ",
        " # The runtime stage.",
        " FROM \\",
        "     # continued, with a comment inside",
        "-    alpine:3.10 AS runtime",
        f"+    {NEW_ALPINE} AS runtime",
        " COPY --from=build /out /out",
        ' CMD ["/bin/cat", "/out"]',
    ]
)


def test_aliases_platform_comments_and_continuations_are_kept(
    env: dict[str, str], catalog_file: Path, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(MULTI_STAGE)
    code, out, err = fix(env, catalog_file, tmp_path, "Dockerfile")
    assert code == 1, err
    assert out.decode() == MULTI_STAGE_DIFF
    # The build stage got the runtime image (alpine-3.20 has no dev variant), and says so.
    assert "alpine-3.20 has no dev variant: its runtime image is proposed" in err
    assert (tmp_path / "Dockerfile").read_text() == MULTI_STAGE  # a diff touches nothing


CRLF_ARG = (
    b"# Base chosen by CI\r\n"
    b'ARG BASE="alpine:3.10" OTHER=1\r\n'
    b"FROM ${BASE}\r\n"
    b'ENTRYPOINT ["/app"]\r\n'
)
CRLF_ARG_DIFF = (
    b"--- a/Dockerfile\n"
    b"+++ b/Dockerfile\n"
    b"@@ -1,4 +1,4 @@\n"
    b" # Base chosen by CI\r\n"
    b'-ARG BASE="alpine:3.10" OTHER=1\r\n'
    b'+ARG BASE="' + NEW_ALPINE.encode() + b'" OTHER=1\r\n'
    b" FROM ${BASE}\r\n"
    b' ENTRYPOINT ["/app"]\r\n'
)


def test_arg_base_rewrites_the_default_and_keeps_crlf(
    env: dict[str, str], catalog_file: Path, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_bytes(CRLF_ARG)
    code, out, err = fix(env, catalog_file, tmp_path, "Dockerfile")
    assert code == 1, err
    assert out == CRLF_ARG_DIFF
    assert "rewrote the default of ARG BASE (used by FROM at line 3)" in err


ESCAPE = "# escape=`\nFROM `\n  alpine:3.10\nCOPY app /app\n"


def test_escape_directive_continuations(
    env: dict[str, str], catalog_file: Path, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(ESCAPE)
    code, out, _ = fix(env, catalog_file, tmp_path, "Dockerfile")
    assert code == 1
    assert f"-  alpine:3.10\n+  {NEW_ALPINE}\n".encode() in out


def test_no_newline_at_end_of_file_is_kept(
    env: dict[str, str], catalog_file: Path, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.10")
    code, out, _ = fix(env, catalog_file, tmp_path, "Dockerfile", extra=("--write",))
    assert (code, out) == (0, b"")
    assert (tmp_path / "Dockerfile").read_text() == f"FROM {NEW_ALPINE}"


# --------------------------------------------------------------------------- refusals


def test_a_run_that_needs_a_shell_blocks_a_shell_less_runtime_and_gets_a_proposal(
    env: dict[str, str], catalog_file: Path, tmp_path: Path
) -> None:
    text = 'FROM alpine:3.10\nRUN apk add --no-cache curl\nCOPY app /app\nCMD ["/app"]\n'
    (tmp_path / "Dockerfile").write_text(text)
    code, out, err = fix(
        env, catalog_file, tmp_path, "Dockerfile", extra=("--prefer", "static-debian12")
    )
    assert code == 0 and out == b""
    assert (
        f"Dockerfile:1: warning: not rewritten to {NEW_STATIC}: RUN would break there "
        "(line 2 needs a shell, apk)"
    ) in err
    assert f"FROM {NEW_STATIC}" in err  # the proposed runtime stage
    assert "COPY --from=runtime-build" in err
    # static-debian12's debug (dev) variant is not in the store: no digest, and it says so.
    assert "no digest to pin" in err
    assert (tmp_path / "Dockerfile").read_text() == text


def test_a_build_stage_run_using_a_missing_package_manager_is_not_rewritten(
    env: dict[str, str], catalog_file: Path, tmp_path: Path
) -> None:
    text = (
        "FROM alpine:3.10 AS build\nRUN apt-get install -y gcc\n"
        "FROM scratch\nCOPY --from=build / /\n"
    )
    (tmp_path / "Dockerfile").write_text(text)
    code, out, err = fix(env, catalog_file, tmp_path, "Dockerfile")
    assert code == 0 and out == b""
    assert "(line 2 needs apt-get); the dev image has a shell and apk" in err


def test_commands_a_shell_less_image_cannot_run_are_flagged(
    env: dict[str, str], catalog_file: Path, tmp_path: Path
) -> None:
    text = 'FROM alpine:3.10\nCOPY app /app\nENTRYPOINT /app --serve\nCMD ["httpd", "-f"]\n'
    (tmp_path / "Dockerfile").write_text(text)
    code, out, err = fix(
        env, catalog_file, tmp_path, "Dockerfile", extra=("--prefer", "static-debian12")
    )
    assert code == 1 and f"+FROM {NEW_STATIC}".encode() in out
    assert "Dockerfile:3: warning: ENTRYPOINT is in shell form" in err
    assert "Dockerfile:4: note: CMD runs 'httpd' from PATH" in err


def test_quiet_keeps_the_warnings_and_drops_the_notes(
    env: dict[str, str], catalog_file: Path, tmp_path: Path
) -> None:
    text = 'FROM alpine:3.10\nCOPY app /app\nENTRYPOINT /app --serve\nCMD ["httpd", "-f"]\n'
    (tmp_path / "Dockerfile").write_text(text)
    done = run_baseguard(
        *("-q", "fix", "Dockerfile", "--catalog", str(catalog_file), "--images", str(IMAGES)),
        *("--offline", "--date", DAY, "--prefer", "static-debian12"),
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1
    assert "Dockerfile:3: warning: ENTRYPOINT is in shell form" in done.stderr
    assert "note:" not in done.stderr


def test_no_digest_no_rewrite(env: dict[str, str], catalog_file: Path, tmp_path: Path) -> None:
    text = (
        "FROM node:22-bookworm AS assets\nRUN npm ci\nFROM alpine:3.20\nCOPY --from=assets /a /a\n"
    )
    (tmp_path / "Dockerfile").write_text(text)
    code, out, err = fix(env, catalog_file, tmp_path, "Dockerfile")
    assert code == 0 and out == b""
    assert "recommended cgr.dev/chainguard/node:22-dev (node-22) but refusing to pin it" in err
    assert "pins no digest" in err


def test_approved_images_are_left_alone(
    env: dict[str, str], catalog_file: Path, tmp_path: Path
) -> None:
    text = f"FROM alpine:3.20\nFROM {STATIC}\n"
    (tmp_path / "Dockerfile").write_text(text)
    assert fix(env, catalog_file, tmp_path, "Dockerfile") == (0, b"", "")


def test_an_arg_feeding_an_unplanned_from_is_not_rewritten(
    env: dict[str, str], catalog_file: Path, tmp_path: Path
) -> None:
    # The build stage would get static's debug variant (no digest offline): not rewritten. The
    # final stage alone would change ARG BASE, which would move the build stage too: refused.
    text = "ARG BASE=alpine:3.10\nFROM ${BASE} AS build\nFROM ${BASE}\nCOPY --from=build /a /a\n"
    (tmp_path / "Dockerfile").write_text(text)
    code, out, err = fix(
        env, catalog_file, tmp_path, "Dockerfile", extra=("--prefer", "static-debian12")
    )
    assert code == 0 and out == b""
    assert "ARG BASE also feeds the FROM at line 2, which would change too" in err


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"FROM alpine:3.10\nRUN <<EOF\nnever closed\n", b"unterminated heredoc"),
        (b"FROOM alpine:3.10\n", b"unknown instruction"),
        (b"RUN true\nFROM alpine:3.10\n", b"RUN before the first FROM"),
        (b"FROM alpine:3.10 AS\n", b"FROM takes an image and an optional AS name"),
        (b"FROM alpine:3.10\nLABEL x=\xff\n", b"not UTF-8"),
    ],
)
def test_a_file_that_does_not_parse_is_never_touched(
    env: dict[str, str], catalog_file: Path, tmp_path: Path, content: bytes, why: bytes
) -> None:
    (tmp_path / "Dockerfile").write_bytes(content)
    (tmp_path / "ok.Dockerfile").write_text("FROM alpine:3.10\n")
    code, out, err = fix(
        env, catalog_file, tmp_path, "Dockerfile", "ok.Dockerfile", extra=("--write",)
    )
    assert (code, out) == (2, b"")
    assert why.decode() in err and "Dockerfile" in err
    assert (tmp_path / "Dockerfile").read_bytes() == content
    # The good file next to it is still fixed.
    assert (tmp_path / "ok.Dockerfile").read_text() == f"FROM {NEW_ALPINE}\n"


def test_bad_input_exits_2_without_traceback(
    env: dict[str, str], catalog_file: Path, tmp_path: Path
) -> None:
    code, _, err = fix(env, catalog_file, tmp_path, "missing/Dockerfile")
    assert code == 2 and "cannot read" in err
    done = run(["fix", "Dockerfile", "--catalog", str(tmp_path / "none.yaml")], env, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr


# --------------------------------------------------------------------------- --write


def test_write_edits_in_place_keeps_mode_and_is_idempotent(
    env: dict[str, str], catalog_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(MULTI_STAGE)
    path.chmod(0o640)
    code, out, err = fix(env, catalog_file, tmp_path, "Dockerfile", extra=("--write",))
    assert code == 0 and out == b"", err
    assert "wrote Dockerfile (2 changes)" in err
    assert path.read_text() == MULTI_STAGE.replace("alpine:3.10", NEW_ALPINE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dockerfile"]
    # The rewritten file is approved as written: nothing more to change.
    assert fix(env, catalog_file, tmp_path, "Dockerfile")[:2] == (0, b"")


@pytest.fixture
def measurer(tmp_path: Path) -> Measurer:
    return Measurer(None, store=ImageStore(IMAGES), offline=True)


def test_a_failed_write_leaves_the_file_unchanged_and_no_temp_file(
    measurer: Measurer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(MULTI_STAGE)
    result = fix_file(path, loads_catalog(CATALOG), measurer, date.fromisoformat(DAY))
    assert result.changed

    def broken(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fix_module.os, "replace", broken)
    with pytest.raises(FixError, match="No space left on device"):
        write_fix(result)
    assert path.read_text() == MULTI_STAGE
    assert os.listdir(tmp_path) == ["Dockerfile"]


def test_a_file_edited_meanwhile_is_not_overwritten(measurer: Measurer, tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(MULTI_STAGE)
    result = fix_file(path, loads_catalog(CATALOG), measurer, date.fromisoformat(DAY))
    path.write_text(MULTI_STAGE + "LABEL edited=yes\n")
    with pytest.raises(FixError, match="changed while fix was running"):
        write_fix(result)
    assert path.read_text().endswith("LABEL edited=yes\n")
