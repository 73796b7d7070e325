"""Reference parsing: data-driven cases from tests/data/refs_cases.json, plus the API around it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from baseguard.errors import BaseguardError, InvalidReferenceError
from baseguard.refs import Reference, is_loopback_host, parse_reference, split_host_port

CASES = json.loads((Path(__file__).parent.parent / "data" / "refs_cases.json").read_text())
DIGEST = "sha256:" + "0123456789abcdef" * 4


def _id(case: dict[str, Any]) -> str:
    return repr(case["input"])[:60]


@pytest.mark.parametrize("case", CASES["valid"], ids=_id)
def test_valid_reference_normalises_as_expected(case: dict[str, Any]) -> None:
    ref = parse_reference(case["input"])
    want = case["expected"]
    got = {
        "registry": ref.registry,
        "repository": ref.repository,
        "tag": ref.tag,
        "digest": ref.digest,
        "name": ref.name,
        "string": str(ref),
        "familiar": ref.familiar,
        "api_host": ref.api_host,
        "is_loopback": ref.is_loopback,
    }
    assert got == want


@pytest.mark.parametrize("case", CASES["valid"], ids=_id)
def test_normalised_string_parses_back_to_the_same_reference(case: dict[str, Any]) -> None:
    ref = parse_reference(case["input"])
    assert parse_reference(str(ref)) == ref


@pytest.mark.parametrize("case", CASES["invalid"], ids=_id)
def test_invalid_reference_is_rejected_with_a_message_naming_it(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(case["input"])
    err = info.value
    assert case["error"] in err.message
    assert repr(case["input"]) in err.message or case["input"] == ""
    assert err.hint


def test_invalid_reference_error_is_a_baseguard_error_with_usage_exit_code() -> None:
    with pytest.raises(BaseguardError) as info:
        parse_reference("Alpine")
    assert info.value.exit_code == 2
    assert "'alpine'" in (info.value.hint or "")


def test_with_digest_pins_and_keeps_the_tag() -> None:
    ref = parse_reference("alpine:3.20").with_digest(DIGEST)
    assert ref == Reference("docker.io", "library/alpine", "3.20", DIGEST)
    assert ref.identifier == DIGEST
    assert str(ref) == f"docker.io/library/alpine:3.20@{DIGEST}"


def test_with_digest_rejects_a_malformed_digest() -> None:
    with pytest.raises(InvalidReferenceError, match=r"cannot pin docker\.io/library/alpine:3\.20"):
        parse_reference("alpine:3.20").with_digest("sha256:nothex")


def test_with_tag_replaces_tag_and_drops_digest() -> None:
    ref = parse_reference(f"alpine:3.20@{DIGEST}").with_tag("3.21")
    assert (ref.tag, ref.digest) == ("3.21", None)
    with pytest.raises(InvalidReferenceError):
        ref.with_tag("-bad")


def test_identifier_is_the_tag_when_not_pinned() -> None:
    assert parse_reference("alpine:3.20").identifier == "3.20"


def test_reference_is_hashable_and_frozen() -> None:
    ref = parse_reference("alpine")
    assert {ref, parse_reference("docker.io/library/alpine:latest")} == {ref}
    with pytest.raises(AttributeError):
        ref.tag = "x"  # type: ignore[misc]


def test_host_and_port_split_ipv6_and_names() -> None:
    assert split_host_port("[::1]:5000") == ("::1", 5000)
    assert split_host_port("registry.example.com") == ("registry.example.com", None)
    ref = parse_reference("localhost:5000/app")
    assert (ref.host, ref.port) == ("localhost", 5000)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST:80", True),
        ("127.0.0.1", True),
        ("127.255.0.9:5000", True),
        ("[::1]", True),
        ("[::1]:443", True),
        ("::1", True),
        ("128.0.0.1", False),
        ("10.1.2.3:5000", False),
        ("[2001:db8::1]", False),
        ("example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
