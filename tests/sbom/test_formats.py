"""The format family: registry, lookup, serials and times."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from baseguard.sbom import SBOM_FORMATS, SbomError, SbomFormat, get_format, write_sbom
from baseguard.sbom.base import document_uuid, timestamp
from tests.sbom.builders import NOW, SERIAL, sample_analysis


def test_registry_holds_the_three_formats_keyed_by_their_names() -> None:
    assert set(SBOM_FORMATS) == {"cyclonedx-json", "spdx-json", "json"}
    for key, cls in SBOM_FORMATS.items():
        assert issubclass(cls, SbomFormat)
        assert cls.name == key
        assert cls.media_type


def test_unknown_format_is_an_sbom_error_listing_the_choices() -> None:
    with pytest.raises(SbomError) as info:
        get_format("cyclonedx-xml")
    assert "cyclonedx-xml" in info.value.message
    assert info.value.hint is not None and "spdx-json" in info.value.hint


def test_write_sbom_stamps_the_current_time_when_none_is_given() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    bom = json.loads(write_sbom(sample_analysis(), "cyclonedx-json"))
    stamped = datetime.fromisoformat(bom["metadata"]["timestamp"].replace("Z", "+00:00"))
    assert before <= stamped <= datetime.now(UTC)


def test_serial_is_random_when_not_given() -> None:
    a = json.loads(write_sbom(sample_analysis(), "cyclonedx-json", now=NOW))["serialNumber"]
    b = json.loads(write_sbom(sample_analysis(), "cyclonedx-json", now=NOW))["serialNumber"]
    assert a != b
    uuid.UUID(a.removeprefix("urn:uuid:"))


def test_serial_accepts_a_urn_prefix() -> None:
    assert document_uuid(f"urn:uuid:{SERIAL}") == SERIAL


def test_serial_that_is_not_a_uuid_is_an_sbom_error() -> None:
    with pytest.raises(SbomError, match="not a UUID"):
        write_sbom(sample_analysis(), "spdx-json", now=NOW, serial="build-42")


def test_timestamp_is_utc_whole_seconds_with_z() -> None:
    local = datetime(2025, 1, 2, 5, 4, 5, 999, tzinfo=timezone(timedelta(hours=2)))
    assert timestamp(local) == "2025-01-02T03:04:05Z"
    assert timestamp(datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05Z"
