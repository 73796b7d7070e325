"""collect_facts: shells, package managers, network tools, permissions, user, size and age."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from baseguard.analysis.hardening import (
    Facts,
    busybox_applets,
    collect_facts,
    redact_env,
    resolve_user,
    runs_as_text,
    summary_rows,
)
from baseguard.image.fs import FileEntry, FileType, ImageFS, MemoryReader
from tests.analysis.fs_builders import (
    Dir,
    File,
    Special,
    build_fs,
    exe,
    fs_from_tar,
    hardlink,
    link,
    make_image,
)
from tests.conftest import realdata_path

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def busybox_binary(*applets: str) -> bytes:
    """Bytes shaped like a busybox binary: ELF junk, then the sorted applet-name table."""
    names = sorted({"[", "[[", *applets})
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 64 + "\x00".join(names).encode() + b"\x00\x00tail"


PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "broken line\n"
    "daemon:x:2:2:daemon:/sbin:/sbin/nologin\n"
    "app:x:0:0:app with uid 0:/app:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
    "bad:x:notanumber:0::/:\n"
)


def alpine_like() -> ImageFS:
    return build_fs(
        {
            "bin/busybox": exe(busybox_binary("ash", "sh", "wget", "nc", "ls", "telnet")),
            "bin/sh": link("/bin/busybox"),
            "bin/ash": link("/bin/busybox"),
            "bin/ls": link("/bin/busybox"),
            "usr/bin/wget": link("/bin/busybox"),
            "usr/bin/nc": link("/bin/busybox"),
            "sbin/apk": exe(),
            "lib/apk/db/installed": "P:busybox\n",
            "etc/passwd": PASSWD,
            "tmp": Dir(0o1777),
            "var/tmp": Dir(0o1777),
        }
    )


def debian_like() -> ImageFS:
    """Merged /usr (bin -> usr/bin), bash and dash, apt and dpkg, coreutils, shadow."""
    return build_fs(
        {
            "bin": link("usr/bin"),
            "sbin": link("usr/sbin"),
            "usr/bin/bash": exe(),
            "usr/bin/dash": exe(),
            "usr/bin/sh": link("dash"),
            "usr/bin/ls": exe(),
            "usr/bin/cat": exe(),
            "usr/bin/apt": exe(),
            "usr/bin/apt-get": exe(),
            "usr/bin/dpkg": exe(),
            "usr/bin/su": File(b"su", 0o4755),
            "usr/bin/passwd": File(b"pw", 0o4755),
            "usr/bin/chage": File(b"ch", 0o2755),
            "usr/bin/mount": File(b"mn", 0o4755),
            "usr/sbin/unix_chkpwd": File(b"uc", 0o2755),
            "usr/sbin/useradd": exe(),
            "var/lib/dpkg/status": "Package: dpkg\n",
            "etc/passwd": PASSWD,
            "tmp": Dir(0o1777),
            "var/tmp": Dir(0o1777),
        }
    )


def distroless_like() -> ImageFS:
    return build_fs(
        {
            "etc/os-release": 'PRETTY_NAME="Distroless"\nID="debian"\nVERSION_ID="12"\n',
            "etc/passwd": PASSWD,
            "var/lib/dpkg/status.d/base-files": "Package: base-files\n",
            "var/lib/dpkg/status.d/tzdata": "Package: tzdata\n",
            "usr/share/zoneinfo/UTC": "TZif",
            "tmp": Dir(0o1777),
            "home/nonroot": Dir(0o700, 65532, 65532),
        }
    )


def facts_of(fs: ImageFS, **config: object) -> Facts:
    return collect_facts(make_image(**config), fs, now=NOW)  # type: ignore[arg-type]


# -- shells ------------------------------------------------------------------------------------


def test_alpine_like_shells_are_busybox_applets_plus_busybox() -> None:
    facts = facts_of(alpine_like())
    assert facts.shells == [
        {"name": "ash", "path": "/bin/ash", "via": "busybox"},
        {"name": "busybox", "path": "/bin/busybox", "via": None},
        {"name": "sh", "path": "/bin/sh", "via": "busybox"},
    ]
    assert facts.has_shell is True


def test_debian_like_shells_are_reported_once_under_bin_despite_merged_usr() -> None:
    facts = facts_of(debian_like())
    assert facts.shells == [
        {"name": "bash", "path": "/bin/bash", "via": None},
        {"name": "dash", "path": "/bin/dash", "via": None},
        {"name": "sh", "path": "/bin/sh", "via": None},
    ]


def test_distroless_has_no_shell() -> None:
    facts = facts_of(distroless_like())
    assert facts.shells == []
    assert facts.has_shell is False


def test_scratch_static_binary_has_no_shell_and_nothing_else() -> None:
    facts = facts_of(build_fs({"app": exe(b"\x7fELF static")}))
    assert (facts.shells, facts.package_managers, facts.network_tools) == ([], [], [])
    assert (facts.setuid_files, facts.setgid_files, facts.world_writable) == ([], [], [])
    assert facts.file_count == 1


def test_dangling_symlink_is_not_a_shell() -> None:
    facts = facts_of(build_fs({"bin/sh": link("/bin/dash")}))
    assert facts.shells == []


def test_symlink_loop_is_not_a_shell() -> None:
    facts = facts_of(build_fs({"bin/sh": link("sh2"), "bin/sh2": link("sh")}))
    assert facts.shells == []


def test_directory_named_sh_is_not_a_shell() -> None:
    facts = facts_of(build_fs({"bin/sh": Dir()}))
    assert facts.shells == []


def test_symlink_climbing_out_of_the_root_does_not_reach_the_host() -> None:
    facts = facts_of(build_fs({"bin/sh": link("../../../../host/bin/sh")}))
    assert facts.shells == []


def test_symlink_climbing_out_of_the_root_counts_when_it_resolves_inside() -> None:
    fs = build_fs({"bin/sh": link("../../../../host/bin/sh"), "host/bin/sh": exe()})
    facts = facts_of(fs)
    assert facts.shells == [{"name": "sh", "path": "/bin/sh", "via": None}]


def test_search_dir_itself_dangling_is_skipped() -> None:
    facts = facts_of(build_fs({"bin": link("/gone"), "usr/bin/zsh": exe()}))
    assert facts.shells == [{"name": "zsh", "path": "/usr/bin/zsh", "via": None}]


def test_hard_link_to_busybox_is_an_applet() -> None:
    fs = build_fs(
        {
            "bin/busybox": exe(busybox_binary("sh", "wget")),
            "bin/sh": hardlink("bin/busybox"),
            "usr/bin/wget": hardlink("bin/busybox"),
        }
    )
    facts = facts_of(fs)
    assert facts.shells == [
        {"name": "busybox", "path": "/bin/busybox", "via": None},
        {"name": "sh", "path": "/bin/sh", "via": "busybox"},
    ]
    assert facts.network_tools == [{"name": "wget", "path": "/usr/bin/wget", "via": "busybox"}]


def test_hard_link_sharing_busybox_data_location_is_an_applet() -> None:
    # A merger that gives hard links the target's data offset but no link name.
    entries = {
        "bin": FileEntry("bin", FileType.DIRECTORY, 0o755),
        "bin/busybox": FileEntry("bin/busybox", FileType.REGULAR, 0o755, layer=0, location=512),
        "bin/ash": FileEntry("bin/ash", FileType.REGULAR, 0o755, layer=0, location=512),
        "bin/bash": FileEntry("bin/bash", FileType.REGULAR, 0o755, layer=1, location=512),
    }
    fs = ImageFS(entries=entries, reader=MemoryReader({"bin/busybox": busybox_binary("ash")}))
    facts = facts_of(fs)
    assert facts.shells == [
        {"name": "ash", "path": "/bin/ash", "via": "busybox"},
        {"name": "bash", "path": "/bin/bash", "via": None},
        {"name": "busybox", "path": "/bin/busybox", "via": None},
    ]


def test_distroless_debug_busybox_directory_is_searched() -> None:
    fs = build_fs(
        {
            "busybox/busybox": exe(busybox_binary("sh", "wget")),
            "busybox/sh": link("busybox"),
            "busybox/wget": link("/busybox/busybox"),
        }
    )
    facts = facts_of(fs)
    assert facts.shells == [
        {"name": "busybox", "path": "/busybox/busybox", "via": None},
        {"name": "sh", "path": "/busybox/sh", "via": "busybox"},
    ]
    assert facts.network_tools == [{"name": "wget", "path": "/busybox/wget", "via": "busybox"}]


def test_link_to_busybox_outside_search_path_is_still_an_applet() -> None:
    fs = build_fs({"opt/bb/busybox": exe(), "bin/sh": link("/opt/bb/busybox")})
    facts = facts_of(fs)
    assert facts.shells == [{"name": "sh", "path": "/bin/sh", "via": "busybox"}]
    assert facts.network_tools == []  # the binary is not on the search path: not scanned


# -- package managers ----------------------------------------------------------------------------


def test_alpine_like_package_manager_is_apk() -> None:
    assert facts_of(alpine_like()).package_managers == [{"name": "apk", "path": "/sbin/apk"}]


def test_debian_like_package_managers() -> None:
    assert facts_of(debian_like()).package_managers == [
        {"name": "apt", "path": "/bin/apt"},
        {"name": "apt-get", "path": "/bin/apt-get"},
        {"name": "dpkg", "path": "/bin/dpkg"},
    ]


def test_rpm_family_package_managers() -> None:
    fs = build_fs(
        {
            "usr/bin/rpm": exe(),
            "usr/bin/microdnf": exe(),
            "usr/bin/dnf": link("dnf-3"),
            "usr/bin/dnf-3": exe(),
            "usr/bin/yum": link("dnf-3"),
        }
    )
    assert [p["name"] for p in facts_of(fs).package_managers] == ["dnf", "microdnf", "rpm", "yum"]


def test_pip_scripts_and_pip_module_are_package_managers() -> None:
    fs = build_fs(
        {
            "usr/local/bin/pip": exe("#!/usr/local/bin/python3.12"),
            "usr/local/bin/pip3": link("pip"),
            "usr/local/lib/python3.12/site-packages/pip/__init__.py": "",
            "usr/local/lib/python3.12/site-packages/pip/_internal/main.py": "",
            "usr/lib/python3/dist-packages/pip": Dir(),
        }
    )
    assert facts_of(fs).package_managers == [
        {"name": "pip", "path": "/usr/local/bin/pip"},
        {"name": "pip3", "path": "/usr/local/bin/pip3"},
        {"name": "python -m pip", "path": "/usr/lib/python3/dist-packages/pip"},
        {"name": "python -m pip", "path": "/usr/local/lib/python3.12/site-packages/pip"},
    ]


def test_npm_symlink_into_node_modules_and_gem() -> None:
    fs = build_fs(
        {
            "usr/local/bin/npm": link("../lib/node_modules/npm/bin/npm-cli.js"),
            "usr/local/lib/node_modules/npm/bin/npm-cli.js": exe("#!/usr/bin/env node"),
            "usr/bin/gem": exe(),
        }
    )
    assert facts_of(fs).package_managers == [
        {"name": "gem", "path": "/usr/bin/gem"},
        {"name": "npm", "path": "/usr/local/bin/npm"},
    ]


# -- network tools ---------------------------------------------------------------------------------


def test_linked_busybox_applets_and_unlinked_compiled_in_ones() -> None:
    facts = facts_of(alpine_like())
    assert facts.network_tools == [
        {"name": "nc", "path": "/usr/bin/nc", "via": "busybox"},
        {"name": "telnet", "path": "/bin/busybox", "via": "busybox"},  # compiled in, unlinked
        {"name": "wget", "path": "/usr/bin/wget", "via": "busybox"},
    ]


def test_busybox_with_no_links_reports_its_network_applets_at_the_binary() -> None:
    fs = build_fs({"bin/busybox": exe(busybox_binary("sh", "nc", "wget", "ls"))})
    facts = facts_of(fs)
    assert facts.network_tools == [
        {"name": "nc", "path": "/bin/busybox", "via": "busybox"},
        {"name": "wget", "path": "/bin/busybox", "via": "busybox"},
    ]
    assert facts.shells == [{"name": "busybox", "path": "/bin/busybox", "via": None}]


def test_busybox_without_readable_applet_table_is_reported_as_busybox() -> None:
    fs = build_fs({"bin/busybox": exe(b"\x7fELF stripped")})
    assert facts_of(fs).network_tools == [
        {"name": "busybox", "path": "/bin/busybox", "via": "busybox"}
    ]


def test_busybox_without_network_applets_adds_no_network_tools() -> None:
    fs = build_fs({"bin/busybox": exe(busybox_binary("sh", "ls"))})
    assert facts_of(fs).network_tools == []


def test_real_tool_wins_over_the_same_busybox_applet() -> None:
    fs = build_fs(
        {
            "bin/busybox": exe(busybox_binary("wget", "nc")),
            "usr/bin/wget": exe(b"GNU wget"),
        }
    )
    assert facts_of(fs).network_tools == [
        {"name": "nc", "path": "/bin/busybox", "via": "busybox"},
        {"name": "wget", "path": "/usr/bin/wget", "via": None},
    ]


def test_standalone_network_tools() -> None:
    fs = build_fs(
        {
            "usr/bin/curl": exe(),
            "usr/bin/ssh": exe(),
            "usr/bin/scp": exe(),
            "usr/bin/socat": exe(),
            "usr/bin/ncat": exe(),
            "usr/bin/nc": link("ncat"),
            "usr/bin/nmap": exe(),
            "usr/bin/telnet": exe(),
            "usr/bin/ftp": exe(),
            "usr/bin/tftp": exe(),
            "usr/bin/netcat": link("/etc/alternatives/netcat"),  # dangling: not counted
        }
    )
    assert [(t["name"], t["path"]) for t in facts_of(fs).network_tools] == [
        ("curl", "/usr/bin/curl"),
        ("ftp", "/usr/bin/ftp"),
        ("nc", "/usr/bin/nc"),
        ("ncat", "/usr/bin/ncat"),
        ("nmap", "/usr/bin/nmap"),
        ("scp", "/usr/bin/scp"),
        ("socat", "/usr/bin/socat"),
        ("ssh", "/usr/bin/ssh"),
        ("telnet", "/usr/bin/telnet"),
        ("tftp", "/usr/bin/tftp"),
    ]


def test_busybox_applets_parser() -> None:
    assert busybox_applets(busybox_binary("wget", "sh")) == {"[", "[[", "sh", "wget"}


def test_busybox_applets_parser_rejects_unsorted_or_missing_tables() -> None:
    assert busybox_applets(b"junk") is None
    assert busybox_applets(b"[\x00[[\x00wget\x00ash\x00\x00") is None
    assert busybox_applets(b"[\x00[[\x00ash\x00no end") is None


# -- permissions ---------------------------------------------------------------------------------


def test_setuid_and_setgid_files_are_sorted_and_slash_prefixed() -> None:
    facts = facts_of(debian_like())
    assert facts.setuid_files == ["/usr/bin/mount", "/usr/bin/passwd", "/usr/bin/su"]
    assert facts.setgid_files == ["/usr/bin/chage", "/usr/sbin/unix_chkpwd"]


def test_setuid_setgid_rules_cover_both_bits_and_ignore_directories() -> None:
    fs = build_fs(
        {
            "usr/bin/both": File(b"", 0o6755),
            "srv/shared": Dir(0o2775),  # setgid directory: not a file
            "usr/bin/plain": exe(),
        }
    )
    facts = facts_of(fs)
    assert facts.setuid_files == ["/usr/bin/both"]
    assert facts.setgid_files == ["/usr/bin/both"]


def test_world_writable_files_and_dirs_excluding_sticky_dirs_and_symlinks() -> None:
    fs = build_fs(
        {
            "tmp": Dir(0o1777),
            "var/tmp": Dir(0o1777),
            "data": Dir(0o777),
            "srv/upload": Dir(0o773),
            "etc/app.conf": File(b"x", 0o666),
            "etc/ok.conf": File(b"x", 0o664),
            "etc/link": link("app.conf"),
            "run/fifo": Special(FileType.FIFO, 0o666),
            "dev/null": Special(FileType.CHAR_DEVICE, 0o666),
            "usr/bin/tool": File(b"", 0o4757),
        }
    )
    facts = facts_of(fs)
    assert facts.world_writable == ["/data", "/etc/app.conf", "/srv/upload", "/usr/bin/tool"]
    assert facts.setuid_files == ["/usr/bin/tool"]


def test_alpine_and_distroless_like_have_no_world_writable_paths() -> None:
    assert facts_of(alpine_like()).world_writable == []
    assert facts_of(distroless_like()).world_writable == []


def test_file_count_counts_regular_files_only() -> None:
    fs = build_fs({"a/b": "x", "a/c": link("b"), "d": Dir(), "e": exe()})
    assert facts_of(fs).file_count == 2


# -- user -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "uid", "as_root"),
    [
        ("", 0, True),
        ("0", 0, True),
        ("root", 0, True),
        ("0:0", 0, True),
        ("root:root", 0, True),
        ("0:1000", 0, True),
        ("root:1000", 0, True),
        ("1000", 1000, False),
        ("1000:0", 1000, False),
        ("65532:65532", 65532, False),
        ("nonroot", 65532, False),
        ("nonroot:nonroot", 65532, False),
        ("app", 0, True),
        ("app:app", 0, True),
        ("daemon", 2, False),
        ("ghost", None, False),
        ("bad", None, False),
    ],
)
def test_user_resolution(user: str, uid: int | None, as_root: bool) -> None:
    facts = facts_of(distroless_like(), user=user)
    assert (facts.user, facts.uid, facts.runs_as_root) == (user, uid, as_root)


def test_root_by_name_without_passwd_is_root() -> None:
    assert resolve_user("root", build_fs({"app": exe()})) == (0, True)


def test_name_without_passwd_is_unknown_not_root() -> None:
    assert resolve_user("nonroot", build_fs({"app": exe()})) == (None, False)


@pytest.mark.parametrize(
    ("user", "text"),
    [
        ("", "root (User unset)"),
        ("root", "root"),
        ("0", "root (User 0)"),
        ("root:root", "root (User root:root)"),
        ("app", "root (User app is uid 0 in /etc/passwd)"),
        ("nonroot", "nonroot (uid 65532)"),
        ("nonroot:nonroot", "nonroot (uid 65532)"),
        ("1000", "uid 1000"),
        ("1000:1000", "uid 1000"),
        ("ghost", "ghost (not in /etc/passwd)"),
    ],
)
def test_runs_as_text(user: str, text: str) -> None:
    assert runs_as_text(facts_of(distroless_like(), user=user)) == text


# -- config facts -------------------------------------------------------------------------------


def test_env_values_of_secret_looking_names_are_redacted() -> None:
    env = [
        "PATH=/usr/local/bin:/usr/bin",
        "DB_PASSWORD=hunter2",
        "GITHUB_TOKEN=ghp_x",
        "aws_secret_access_key=abc",
        "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305",
        "LANG=C.UTF-8",
        "EMPTY=",
        "NOEQUALS",
        "=orphan",
        "LANG=en_US.UTF-8",
    ]
    assert redact_env(env) == {
        "PATH": "/usr/local/bin:/usr/bin",
        "DB_PASSWORD": "<redacted>",
        "GITHUB_TOKEN": "<redacted>",
        "aws_secret_access_key": "<redacted>",
        "GPG_KEY": "<redacted>",
        "LANG": "en_US.UTF-8",
        "EMPTY": "",
        "NOEQUALS": "",
    }


def test_config_fields_are_copied() -> None:
    facts = facts_of(
        alpine_like(),
        entrypoint=["/entrypoint.sh"],
        cmd=["serve", "--port", "8080"],
        working_dir="/app",
        labels={"b": "2", "a": "1"},
        exposed_ports=["9090/tcp", "8080/tcp"],
        env=["API_KEY=x", "MODE=prod"],
        architecture="arm64",
        variant="v8",
        layer_sizes=(1000, 2500),
    )
    assert facts.entrypoint == ["/entrypoint.sh"]
    assert facts.cmd == ["serve", "--port", "8080"]
    assert facts.working_dir == "/app"
    assert list(facts.labels.items()) == [("a", "1"), ("b", "2")]
    assert facts.exposed_ports == ["8080/tcp", "9090/tcp"]
    assert facts.env == {"API_KEY": "<redacted>", "MODE": "prod"}
    assert (facts.architecture, facts.os) == ("arm64/v8", "linux")
    assert (facts.layer_count, facts.compressed_size) == (2, 3500)


def test_uncompressed_size_comes_from_the_fs() -> None:
    fs = build_fs({"app": exe()}, uncompressed_size=7_800_000)
    assert facts_of(fs).uncompressed_size == 7_800_000


def test_age_from_injected_now() -> None:
    created = datetime(2024, 9, 6, 11, 34, tzinfo=UTC)
    facts = facts_of(alpine_like(), created=created)
    assert facts.created == "2024-09-06T11:34:00Z"
    assert facts.age_days == 116


def test_age_is_whole_days() -> None:
    created = datetime(2024, 9, 6, 11, 34, tzinfo=UTC)
    now = datetime(2025, 9, 6, 11, 33, tzinfo=UTC)
    facts = collect_facts(make_image(created=created), alpine_like(), now=now)
    assert facts.age_days == 364


def test_naive_timestamps_are_taken_as_utc() -> None:
    facts = collect_facts(
        make_image(created=datetime(2024, 12, 30)), alpine_like(), now=datetime(2025, 1, 1)
    )
    assert (facts.created, facts.age_days) == ("2024-12-30T00:00:00Z", 2)


def test_reproducible_build_epoch_timestamp_has_no_age() -> None:
    facts = facts_of(alpine_like(), created=datetime(1970, 1, 1, tzinfo=UTC))
    assert (facts.created, facts.age_days) == ("1970-01-01T00:00:00Z", None)


def test_missing_created_has_no_age() -> None:
    facts = facts_of(alpine_like())
    assert (facts.created, facts.age_days) == (None, None)


def test_base_image_from_manifest_annotations_wins_over_labels() -> None:
    facts = facts_of(
        alpine_like(),
        annotations={
            "org.opencontainers.image.base.name": "docker.io/library/alpine:3.20",
            "org.opencontainers.image.base.digest": "sha256:" + "1" * 64,
        },
        labels={"org.opencontainers.image.base.name": "docker.io/library/debian:12"},
    )
    assert facts.base_image == {
        "name": "docker.io/library/alpine:3.20",
        "digest": "sha256:" + "1" * 64,
    }


def test_base_image_from_labels() -> None:
    facts = facts_of(
        alpine_like(), labels={"org.opencontainers.image.base.name": "cgr.dev/chainguard/static"}
    )
    assert facts.base_image == {"name": "cgr.dev/chainguard/static", "digest": None}


def test_no_base_image_declared() -> None:
    assert facts_of(alpine_like()).base_image is None


# -- reads ----------------------------------------------------------------------------------------


class CountingReader(MemoryReader):
    def __init__(self, contents: dict[str, bytes]) -> None:
        super().__init__(contents)
        self.paths: list[str] = []

    def read(self, entry: FileEntry, limit: int) -> bytes:
        self.paths.append(entry.path)
        return super().read(entry, limit)


def test_only_passwd_and_busybox_are_read() -> None:
    base = alpine_like()
    reader = CountingReader(base.reader.contents)  # type: ignore[attr-defined]
    fs = ImageFS(entries=base.entries, reader=reader)
    collect_facts(make_image(user="nonroot"), fs, now=NOW)
    assert sorted(reader.paths) == ["bin/busybox", "etc/passwd"]


# -- serialisation and summary ------------------------------------------------------------------


def test_to_dict_is_json_deterministic_and_round_trips() -> None:
    image_args = {
        "user": "nonroot",
        "env": ["B=2", "A=1"],
        "created": datetime(2024, 9, 6, tzinfo=UTC),
        "labels": {"z": "1", "a": "2"},
        "annotations": {"org.opencontainers.image.base.name": "alpine:3.20"},
    }
    first = collect_facts(make_image(**image_args), alpine_like(), now=NOW)  # type: ignore[arg-type]
    second = collect_facts(make_image(**image_args), alpine_like(), now=NOW)  # type: ignore[arg-type]
    text = json.dumps(first.to_dict())
    assert text == json.dumps(second.to_dict())
    data = json.loads(text)
    assert list(data["env"]) == ["A", "B"]
    assert data["base_image"] == {"name": "alpine:3.20", "digest": None}
    assert data["uid"] == 65532
    assert Facts.from_dict(data) == first


def test_summary_row_says_one_day_not_one_days() -> None:
    facts = collect_facts(make_image(created=NOW - timedelta(days=1)), alpine_like(), now=NOW)
    assert dict(summary_rows(facts))["Created"].endswith("(1 day ago)")


def test_summary_rows_for_alpine_like() -> None:
    fs = alpine_like()
    fs.uncompressed_size = 7_800_000
    facts = collect_facts(
        make_image(layer_sizes=(3_400_000,), created=datetime(2024, 9, 6, 11, 34, tzinfo=UTC)),
        fs,
        now=NOW,
    )
    assert summary_rows(facts) == [
        ("Platform", "linux/amd64"),
        ("Created", "2024-09-06T11:34:00Z (116 days ago)"),
        ("Layers", "1"),
        ("Size", "3.4 MB compressed, 7.8 MB uncompressed"),
        ("Files", "4"),
        ("Shell", "ash (busybox), busybox, sh (busybox)"),
        ("Package managers", "apk"),
        ("Network tools", "nc (busybox), telnet (busybox), wget (busybox)"),
        ("Runs as", "root (User unset)"),
        ("Setuid files", "none"),
        ("Setgid files", "none"),
        ("World-writable", "none"),
        ("Entrypoint", "none"),
        ("Cmd", "none"),
        ("Exposed ports", "none"),
    ]


def test_summary_rows_for_distroless_nonroot_with_base_image() -> None:
    facts = facts_of(
        distroless_like(),
        user="nonroot",
        entrypoint=["/app"],
        exposed_ports=["8080/tcp"],
        annotations={
            "org.opencontainers.image.base.name": "gcr.io/distroless/static-debian12",
            "org.opencontainers.image.base.digest": "sha256:" + "2" * 64,
        },
    )
    rows = dict(summary_rows(facts))
    assert rows["Base image"] == "gcr.io/distroless/static-debian12@sha256:" + "2" * 64
    assert rows["Shell"] == "none"
    assert rows["Package managers"] == "none"
    assert rows["Network tools"] == "none"
    assert rows["Runs as"] == "nonroot (uid 65532)"
    assert rows["Entrypoint"] == "/app"
    assert rows["Exposed ports"] == "8080/tcp"
    assert rows["Created"] == "unknown"


def test_summary_truncates_long_path_lists() -> None:
    fs = build_fs({f"usr/bin/s{i}": File(b"", 0o4755) for i in range(7)})
    rows = dict(summary_rows(facts_of(fs)))
    assert rows["Setuid files"] == (
        "7: /usr/bin/s0, /usr/bin/s1, /usr/bin/s2, /usr/bin/s3, /usr/bin/s4, … (+2 more)"
    )


# -- real data: the official Alpine 3.20.3 minirootfs ----------------------------------------------


@pytest.fixture(scope="module")
def alpine_3_20_3() -> ImageFS:
    return fs_from_tar(
        realdata_path("images", "alpine-minirootfs", "alpine-minirootfs-3.20.3-x86_64.tar.gz")
    )


@pytest.mark.realdata
def test_real_alpine_shells(alpine_3_20_3: ImageFS) -> None:
    facts = collect_facts(make_image(), alpine_3_20_3, now=NOW)
    assert facts.shells == [
        {"name": "ash", "path": "/bin/ash", "via": "busybox"},
        {"name": "busybox", "path": "/bin/busybox", "via": None},
        {"name": "sh", "path": "/bin/sh", "via": "busybox"},
    ]
    assert facts.has_shell is True


@pytest.mark.realdata
def test_real_alpine_package_manager(alpine_3_20_3: ImageFS) -> None:
    facts = collect_facts(make_image(), alpine_3_20_3, now=NOW)
    assert facts.package_managers == [{"name": "apk", "path": "/sbin/apk"}]


@pytest.mark.realdata
def test_real_alpine_network_applets_via_busybox(alpine_3_20_3: ImageFS) -> None:
    # Alpine's busybox is built with nc and wget (linked in /usr/bin) and no telnet/ftp/tftp.
    facts = collect_facts(make_image(), alpine_3_20_3, now=NOW)
    assert facts.network_tools == [
        {"name": "nc", "path": "/usr/bin/nc", "via": "busybox"},
        {"name": "wget", "path": "/usr/bin/wget", "via": "busybox"},
    ]


@pytest.mark.realdata
def test_real_alpine_has_no_setuid_or_world_writable_files(alpine_3_20_3: ImageFS) -> None:
    # The 3.20.3 minirootfs ships no bbsuid and no setuid binaries; /tmp and /var/tmp are 1777.
    facts = collect_facts(make_image(), alpine_3_20_3, now=NOW)
    assert (facts.setuid_files, facts.setgid_files, facts.world_writable) == ([], [], [])
    assert alpine_3_20_3.get("tmp") is not None
    assert alpine_3_20_3.entries["tmp"].mode == 0o1777


@pytest.mark.realdata
def test_real_alpine_runs_as_root_with_empty_user(alpine_3_20_3: ImageFS) -> None:
    facts = collect_facts(make_image(user=""), alpine_3_20_3, now=NOW)
    assert (facts.uid, facts.runs_as_root) == (0, True)
    assert runs_as_text(facts) == "root (User unset)"


@pytest.mark.realdata
def test_real_alpine_nobody_is_not_root(alpine_3_20_3: ImageFS) -> None:
    facts = collect_facts(make_image(user="nobody"), alpine_3_20_3, now=NOW)
    assert (facts.uid, facts.runs_as_root) == (65534, False)


@pytest.mark.realdata
def test_real_alpine_file_count(alpine_3_20_3: ImageFS) -> None:
    facts = collect_facts(make_image(), alpine_3_20_3, now=NOW)
    assert facts.file_count == 87


def test_two_busybox_binaries_report_an_unlinked_applet_once() -> None:
    fs = build_fs(
        {
            "bin/busybox": exe(busybox_binary("wget")),
            "usr/local/bin/busybox": exe(busybox_binary("wget", "nc")),
        }
    )
    assert facts_of(fs).network_tools == [
        {"name": "nc", "path": "/usr/local/bin/busybox", "via": "busybox"},
        {"name": "wget", "path": "/bin/busybox", "via": "busybox"},
    ]
