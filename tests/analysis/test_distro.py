"""detect_distro: os-release parsing, fallbacks, and the distroless/wolfi/scratch variants."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from baseguard.analysis.distro import Distro, detect_distro, parse_os_release
from tests.analysis.fs_builders import Dir, exe, link
from tests.analysis.fs_builders import build_fs as fs_of
from tests.conftest import realdata_path

# Published os-release files, as the distributions ship them.
DISTROLESS_OS_RELEASE = """\
PRETTY_NAME="Distroless"
NAME="Debian GNU/Linux"
ID="debian"
VERSION_ID="12"
VERSION="Debian GNU/Linux 12 (bookworm)"
HOME_URL="https://github.com/GoogleContainerTools/distroless"
SUPPORT_URL="https://github.com/GoogleContainerTools/distroless/blob/master/README.md"
BUG_REPORT_URL="https://github.com/GoogleContainerTools/distroless/issues/new"
"""

UBUNTU_2404_OS_RELEASE = """\
PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
"""

UBI9_OS_RELEASE = """\
NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
HOME_URL="https://www.redhat.com/"
DOCUMENTATION_URL="https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux/9"
BUG_REPORT_URL="https://bugzilla.redhat.com/"

REDHAT_BUGZILLA_PRODUCT="Red Hat Enterprise Linux 9"
REDHAT_BUGZILLA_PRODUCT_VERSION=9.4
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
"""

WOLFI_OS_RELEASE = """\
ID=wolfi
NAME="Wolfi"
PRETTY_NAME="Wolfi"
VERSION_ID="20230201"
HOME_URL="https://wolfi.dev"
"""

CHAINGUARD_OS_RELEASE = """\
ID=chainguard
NAME="Chainguard"
PRETTY_NAME="Chainguard"
VERSION_ID="20230214"
HOME_URL="https://chainguard.dev/"
"""

PLAIN_DEBIAN_12 = 'ID=debian\nVERSION_ID="12"\nNAME="Debian GNU/Linux"\n'


def _tar_member(tarball: Path, name: str) -> bytes:
    with tarfile.open(tarball, "r:gz") as tar:
        fh = tar.extractfile(f"./{name}")
        assert fh is not None
        return fh.read()


# -- os-release parsing -----------------------------------------------------------------------


def test_parse_os_release_unquotes_double_and_single_quotes() -> None:
    values = parse_os_release("A=\"x y\"\nB='p q'\nC=plain\n")
    assert values == {"A": "x y", "B": "p q", "C": "plain"}


def test_parse_os_release_applies_shell_escapes_inside_double_quotes() -> None:
    values = parse_os_release('PRETTY_NAME="say \\"hi\\" for \\$5 \\\\ \\`x\\`"\n')
    assert values == {"PRETTY_NAME": 'say "hi" for $5 \\ `x`'}


def test_parse_os_release_keeps_backslashes_inside_single_quotes() -> None:
    assert parse_os_release("A='c:\\dir \\$x'\n") == {"A": "c:\\dir \\$x"}


def test_parse_os_release_unquoted_backslash_escapes_the_next_character() -> None:
    assert parse_os_release("A=one\\ two\\#x\n") == {"A": "one two#x"}


def test_parse_os_release_joins_unquoted_words_leniently() -> None:
    assert parse_os_release("NAME=Some Linux\n") == {"NAME": "Some Linux"}


def test_parse_os_release_ignores_comments_blank_and_junk_lines() -> None:
    text = (
        "# a comment\n"
        "\n"
        "this line is junk\n"
        "=novalue\n"
        "1BAD=key\n"
        'BROKEN="unterminated\n'
        "ID=alpine # trailing comment\n"
        "  VERSION_ID=3.20.3  \n"
    )
    assert parse_os_release(text) == {"ID": "alpine", "VERSION_ID": "3.20.3"}


def test_parse_os_release_later_assignment_wins() -> None:
    assert parse_os_release("ID=a\nID=b\n") == {"ID": "b"}


def test_parse_os_release_keeps_empty_values() -> None:
    assert parse_os_release('VARIANT=""\nID=x\n') == {"VARIANT": "", "ID": "x"}


# -- real os-release files ----------------------------------------------------------------------


def test_real_debian_bookworm_os_release() -> None:
    data = realdata_path("debian", "bookworm-os-release").read_bytes()
    distro = detect_distro(fs_of({"etc/os-release": data}))
    assert distro == Distro(
        id="debian",
        version_id="12",
        version="12 (bookworm)",
        codename="bookworm",
        name="Debian GNU/Linux",
        pretty_name="Debian GNU/Linux 12 (bookworm)",
        id_like=[],
        variant=None,
        source="etc/os-release",
    )
    assert distro.display == "debian 12 (bookworm)"


def test_real_alpine_3_20_3_minirootfs_release_files() -> None:
    tarball = realdata_path("images", "alpine-minirootfs", "alpine-minirootfs-3.20.3-x86_64.tar.gz")
    fs = fs_of(
        {
            "etc/os-release": _tar_member(tarball, "etc/os-release"),
            "etc/alpine-release": _tar_member(tarball, "etc/alpine-release"),
        }
    )
    distro = detect_distro(fs)
    assert (distro.id, distro.version_id, distro.name) == ("alpine", "3.20.3", "Alpine Linux")
    assert distro.pretty_name == "Alpine Linux v3.20"
    assert distro.codename is None
    assert distro.variant is None
    assert distro.source == "etc/os-release"
    assert distro.display == "alpine 3.20.3"


def test_real_alpine_release_file_alone_is_enough() -> None:
    tarball = realdata_path("images", "alpine-minirootfs", "alpine-minirootfs-3.10.9-x86_64.tar.gz")
    fs = fs_of({"etc/alpine-release": _tar_member(tarball, "etc/alpine-release")})
    distro = detect_distro(fs)
    assert (distro.id, distro.version_id, distro.source) == (
        "alpine",
        "3.10.9",
        "etc/alpine-release",
    )
    assert distro.display == "alpine 3.10.9"


# -- where os-release lives ---------------------------------------------------------------------


def test_usr_lib_os_release_is_the_fallback() -> None:
    distro = detect_distro(fs_of({"usr/lib/os-release": PLAIN_DEBIAN_12}))
    assert (distro.id, distro.version_id, distro.source) == ("debian", "12", "usr/lib/os-release")


def test_etc_os_release_symlink_to_usr_lib_is_followed() -> None:
    fs = fs_of(
        {"usr/lib/os-release": PLAIN_DEBIAN_12, "etc/os-release": link("../usr/lib/os-release")}
    )
    distro = detect_distro(fs)
    assert (distro.id, distro.source) == ("debian", "etc/os-release")


def test_dangling_etc_os_release_falls_back_to_usr_lib() -> None:
    fs = fs_of({"usr/lib/os-release": WOLFI_OS_RELEASE, "etc/os-release": link("/nowhere")})
    assert detect_distro(fs).source == "usr/lib/os-release"


def test_os_release_without_id_or_name_is_ignored() -> None:
    fs = fs_of({"etc/os-release": "# empty\n", "etc/alpine-release": "3.19.1\n"})
    distro = detect_distro(fs)
    assert (distro.id, distro.version_id, distro.source) == (
        "alpine",
        "3.19.1",
        "etc/alpine-release",
    )


# -- other distributions --------------------------------------------------------------------------


def test_ubuntu_2404() -> None:
    distro = detect_distro(fs_of({"etc/os-release": UBUNTU_2404_OS_RELEASE}))
    assert (distro.id, distro.version_id, distro.codename) == ("ubuntu", "24.04", "noble")
    assert distro.id_like == ["debian"]
    assert distro.display == "ubuntu 24.04 (noble)"


def test_ubuntu_codename_comes_from_the_table_when_missing() -> None:
    fs = fs_of({"etc/os-release": 'ID=ubuntu\nVERSION_ID="22.04"\n'})
    assert detect_distro(fs).codename == "jammy"


def test_ubi9_is_rhel() -> None:
    distro = detect_distro(fs_of({"etc/os-release": UBI9_OS_RELEASE}))
    assert (distro.id, distro.version_id, distro.codename) == ("rhel", "9.4", "Plow")
    assert distro.id_like == ["fedora"]
    assert distro.variant is None
    assert distro.display == "rhel 9.4 (Plow)"


def test_wolfi_variant() -> None:
    distro = detect_distro(fs_of({"etc/os-release": WOLFI_OS_RELEASE}))
    assert (distro.id, distro.variant, distro.version_id) == ("wolfi", "wolfi", "20230201")
    assert distro.display == "wolfi 20230201"


def test_chainguard_variant() -> None:
    distro = detect_distro(fs_of({"etc/os-release": CHAINGUARD_OS_RELEASE}))
    assert (distro.id, distro.variant) == ("chainguard", "chainguard")
    assert distro.display == "chainguard 20230214"


# -- distroless -------------------------------------------------------------------------------


def test_distroless_os_release_is_recognised() -> None:
    fs = fs_of(
        {
            "etc/os-release": DISTROLESS_OS_RELEASE,
            "var/lib/dpkg/status.d/base-files": "Package: base-files\n",
        }
    )
    distro = detect_distro(fs)
    assert (distro.id, distro.version_id, distro.variant) == ("debian", "12", "distroless")
    assert distro.codename == "bookworm"  # from the version table: distroless omits it
    assert distro.pretty_name == "Distroless"
    assert distro.display == "distroless (debian 12)"


def test_distroless_home_url_alone_is_enough() -> None:
    text = 'ID=debian\nVERSION_ID="11"\nHOME_URL="https://github.com/GoogleContainerTools/distroless"\n'
    distro = detect_distro(fs_of({"etc/os-release": text}))
    assert distro.variant == "distroless"
    assert distro.display == "distroless (debian 11)"


def test_debian_with_status_d_and_no_shell_is_distroless() -> None:
    fs = fs_of(
        {
            "etc/os-release": PLAIN_DEBIAN_12,
            "var/lib/dpkg/status.d/libc6": "Package: libc6\n",
            "usr/bin/app": exe(),
        }
    )
    assert detect_distro(fs).variant == "distroless"


def test_debian_with_status_d_and_a_shell_is_not_distroless() -> None:
    fs = fs_of(
        {
            "etc/os-release": PLAIN_DEBIAN_12,
            "var/lib/dpkg/status.d/libc6": "Package: libc6\n",
            "bin/sh": exe(),
        }
    )
    assert detect_distro(fs).variant is None


def test_debian_with_status_file_is_not_distroless() -> None:
    fs = fs_of(
        {
            "etc/os-release": PLAIN_DEBIAN_12,
            "var/lib/dpkg/status": "Package: libc6\n",
            "var/lib/dpkg/status.d": Dir(),
        }
    )
    assert detect_distro(fs).variant is None


# -- release-file fallbacks ---------------------------------------------------------------------


def test_debian_version_point_release() -> None:
    distro = detect_distro(fs_of({"etc/debian_version": "12.7\n"}))
    assert (distro.id, distro.version_id, distro.version, distro.codename) == (
        "debian",
        "12",
        "12.7",
        "bookworm",
    )
    assert distro.source == "etc/debian_version"
    assert distro.display == "debian 12 (bookworm)"


def test_debian_version_testing() -> None:
    distro = detect_distro(fs_of({"etc/debian_version": "bookworm/sid\n"}))
    assert (distro.id, distro.version_id, distro.version, distro.codename) == (
        "debian",
        None,
        "testing",
        "bookworm",
    )
    assert distro.display == "debian testing (bookworm)"


def test_debian_testing_os_release_takes_version_from_debian_version() -> None:
    fs = fs_of(
        {
            "etc/os-release": 'PRETTY_NAME="Debian GNU/Linux trixie/sid"\nID=debian\n'
            "VERSION_CODENAME=trixie\n",
            "etc/debian_version": "trixie/sid\n",
        }
    )
    distro = detect_distro(fs)
    assert (distro.version, distro.codename, distro.source) == (
        "testing",
        "trixie",
        "etc/os-release",
    )


def test_debian_version_with_status_d_and_no_shell_is_distroless() -> None:
    fs = fs_of({"etc/debian_version": "11.11\n", "var/lib/dpkg/status.d/tzdata": "x"})
    distro = detect_distro(fs)
    assert (distro.id, distro.version_id, distro.variant) == ("debian", "11", "distroless")


@pytest.mark.parametrize(
    ("path", "line", "expected"),
    [
        (
            "etc/redhat-release",
            "Red Hat Enterprise Linux release 8.10 (Ootpa)\n",
            ("rhel", "8.10", "Ootpa", "rhel 8.10 (Ootpa)"),
        ),
        (
            "etc/redhat-release",
            "CentOS Linux release 7.9.2009 (Core)\n",
            ("centos", "7", "Core", "centos 7 (Core)"),
        ),
        (
            "etc/redhat-release",
            "Rocky Linux release 9.3 (Blue Onyx)\n",
            ("rocky", "9.3", "Blue Onyx", "rocky 9.3 (Blue Onyx)"),
        ),
        (
            "etc/system-release",
            "Amazon Linux release 2 (Karoo)\n",
            ("amzn", "2", "Karoo", "amzn 2 (Karoo)"),
        ),
        (
            "etc/system-release",
            "Fedora release 40 (Forty)\n",
            ("fedora", "40", "Forty", "fedora 40 (Forty)"),
        ),
    ],
)
def test_redhat_style_release_files(path: str, line: str, expected: tuple[str, ...]) -> None:
    distro = detect_distro(fs_of({path: line}))
    assert (distro.id, distro.version_id, distro.codename, distro.display) == expected
    assert distro.source == path


def test_unparseable_redhat_release_is_skipped() -> None:
    distro = detect_distro(fs_of({"etc/redhat-release": "who knows\n", "var/lib/rpm": Dir()}))
    assert (distro.id, distro.variant, distro.display) == (None, None, "unknown")


# -- scratch -----------------------------------------------------------------------------------


def test_static_binary_only_is_scratch() -> None:
    distro = detect_distro(fs_of({"app": exe(b"\x7fELF static")}))
    assert distro == Distro(id=None, variant="scratch", source="none")
    assert distro.display == "scratch"


def test_package_database_without_release_file_is_unknown_not_scratch() -> None:
    distro = detect_distro(fs_of({"lib/apk/db/installed": "P:musl\n"}))
    assert (distro.id, distro.variant, distro.display) == (None, None, "unknown")


# -- serialisation ------------------------------------------------------------------------------


def test_to_dict_includes_display_and_round_trips() -> None:
    distro = detect_distro(fs_of({"etc/os-release": UBUNTU_2404_OS_RELEASE}))
    data = distro.to_dict()
    assert data == {
        "id": "ubuntu",
        "version_id": "24.04",
        "version": "24.04.1 LTS (Noble Numbat)",
        "codename": "noble",
        "name": "Ubuntu",
        "pretty_name": "Ubuntu 24.04.1 LTS",
        "id_like": ["debian"],
        "variant": None,
        "source": "etc/os-release",
        "display": "ubuntu 24.04 (noble)",
    }
    assert Distro.from_dict(data) == distro
