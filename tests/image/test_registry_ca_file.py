"""A CA bundle the registry client cannot use is a RegistryError naming it, for every caller.

``RegistryClient(ca_file=...)`` (and ``verify=PATH``) handed the path straight to
``ssl.create_default_context``: a missing file, a directory or a file with no certificate
escaped as ``FileNotFoundError``/``IsADirectoryError``/``ssl.SSLError`` (exit 3 in the CLI,
a crash in the service, the worker and ``watch``). The CLI's ``--ca-file`` check now calls
the same :func:`ca_context`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from baseguard.errors import RegistryError
from baseguard.image.registry import RegistryClient, ca_context
from baseguard.image.source import OpenOptions, open_image


def _bad(tmp_path: Path, kind: str) -> tuple[Path, str]:
    if kind == "missing":
        return tmp_path / "absent.pem", "does not exist"
    if kind == "directory":
        return tmp_path, "is a directory, not a PEM file"
    path = tmp_path / f"{kind}.pem"
    path.write_bytes(b"" if kind == "empty" else b"\xc6\x00 not a certificate\n")
    return path, "holds no usable PEM CA certificate"


KINDS = ["missing", "directory", "garbage", "empty"]


@pytest.mark.parametrize("kind", KINDS)
def test_ca_context_names_the_file_and_what_is_wrong(tmp_path: Path, kind: str) -> None:
    path, why = _bad(tmp_path, kind)
    with pytest.raises(RegistryError) as caught:
        ca_context(path)
    assert caught.value.message.startswith(f"CA file {path} {why}")
    assert caught.value.hint and "PEM" in caught.value.hint


@pytest.mark.parametrize("kind", KINDS)
def test_registry_client_refuses_an_unusable_ca_file(tmp_path: Path, kind: str) -> None:
    path, why = _bad(tmp_path, kind)
    with pytest.raises(RegistryError, match=why):
        RegistryClient(ca_file=path)
    with pytest.raises(RegistryError, match=why):
        RegistryClient(verify=str(path))


def test_opening_a_registry_image_with_an_unusable_ca_file_is_a_registry_error(
    tmp_path: Path,
) -> None:
    path, why = _bad(tmp_path, "garbage")
    with pytest.raises(RegistryError, match=why):
        open_image("127.0.0.1:1/x:1", OpenOptions(ca_file=str(path)))


def test_a_pem_ca_bundle_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    assert ca_context(path).cert_store_stats()["x509_ca"] >= 1
    RegistryClient(ca_file=path).close()
