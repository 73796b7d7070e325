"""License identifiers and expressions: ours must never claim more than the official lists."""

from __future__ import annotations

import json
from pathlib import Path

import cyclonedx
import pytest
from license_expression import get_spdx_licensing  # type: ignore[import-untyped]

from baseguard.sbom.base import (
    SPDX_EXCEPTION_IDS,
    SPDX_LICENSE_IDS,
    is_license_expression,
    license_kind,
    license_refs,
    spdx_expression,
)


def cyclonedx_spdx_enum() -> set[str]:
    schema = Path(cyclonedx.__file__).parent / "schema" / "_res" / "spdx.SNAPSHOT.schema.json"
    return set(json.loads(schema.read_text())["enum"])


def test_every_embedded_id_is_in_the_cyclonedx_schema_enum() -> None:
    assert SPDX_LICENSE_IDS - cyclonedx_spdx_enum() == set()


def test_every_embedded_id_is_accepted_by_spdx_tools_licensing() -> None:
    licensing = get_spdx_licensing()
    for ident in sorted(SPDX_LICENSE_IDS):
        licensing.parse(ident, validate=True, strict=True)


def test_every_embedded_exception_works_after_with() -> None:
    licensing = get_spdx_licensing()
    for ident in sorted(SPDX_EXCEPTION_IDS):
        licensing.parse(f"GPL-2.0-or-later WITH {ident}", validate=True, strict=True)


def test_licenses_and_exceptions_do_not_overlap() -> None:
    assert not SPDX_LICENSE_IDS & SPDX_EXCEPTION_IDS


VALID = [
    "MIT",
    "GPL-2.0+",
    "MIT OR Apache-2.0",
    "(MIT OR Apache-2.0) AND BSD-3-Clause",
    "GPL-2.0-or-later WITH Classpath-exception-2.0",
    "LGPL-2.1-only OR (GPL-3.0-only WITH GCC-exception-3.1 AND Zlib)",
    "((MIT))",
    "LicenseRef-custom",
    "MIT AND LicenseRef-my.license-2",
]
INVALID = [
    "",
    "GPLv2+",
    "OpenSSL+",
    "Apache 2.0",
    "MIT or Apache-2.0",
    "mit",
    "MIT OR",
    "OR MIT",
    "(MIT",
    "MIT)",
    "MIT WITH MIT",
    "MIT WITH",
    "AND",
    "MIT Apache-2.0",
    "LicenseRef-",
    "(" * 200 + "MIT" + ")" * 200,
]


@pytest.mark.parametrize("text", VALID)
def test_valid_expression_is_recognised_and_accepted_by_spdx_tools(text: str) -> None:
    assert is_license_expression(text)
    # spdx-tools checks LicenseRef-s against the document, not the license list
    get_spdx_licensing().parse(text, validate="LicenseRef-" not in text, strict=True)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_expression_is_not_recognised(text: str) -> None:
    assert not is_license_expression(text)


def test_kinds() -> None:
    assert license_kind("MIT") == "id"
    assert license_kind("MIT OR 0BSD") == "expression"
    assert license_kind("LicenseRef-x") == "expression"
    assert license_kind("GPLv2+") == "text"


def test_license_refs_are_unique_even_when_sanitised_alike() -> None:
    refs = license_refs({"GPL v2", "GPL-v2", "GPL/v2", "***"})
    assert sorted(refs.values()) == [
        "LicenseRef-GPL-v2",
        "LicenseRef-GPL-v2-2",
        "LicenseRef-GPL-v2-3",
        "LicenseRef-unknown",
    ]
    assert refs == license_refs({"GPL v2", "GPL-v2", "GPL/v2", "***"})


def test_spdx_expression_joins_with_and_and_parenthesises_compounds() -> None:
    refs = {"GPLv2+": "LicenseRef-GPLv2"}
    assert spdx_expression([], refs) is None
    assert spdx_expression(["MIT OR 0BSD"], refs) == "MIT OR 0BSD"
    assert spdx_expression(["MIT", "MIT OR 0BSD", "GPLv2+"], refs) == (
        "MIT AND (MIT OR 0BSD) AND LicenseRef-GPLv2"
    )
    assert spdx_expression(["MIT", "MIT"], refs) == "MIT"
