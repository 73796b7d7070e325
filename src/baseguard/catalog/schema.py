"""The JSON Schema (draft 2020-12) of ``catalog.yaml``, published as docs/catalog.schema.json.

Editors use it for completion and early errors; ``baseguard catalog validate`` is still the
authority (it also checks what a schema cannot: real dates, normalised repositories, unique
ids, lifecycle rules). YAML dates are checked as ``YYYY-MM-DD`` strings: convert them with
:func:`yaml_to_json` before validating a loaded document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from baseguard.catalog.model import (
    CATALOG_VERSION,
    KNOWN_PROVIDERS,
    LIBCS,
    SLA_SEVERITIES,
    STATES,
)

SCHEMA_ID = "https://baseguard.dev/schemas/catalog-v1.schema.json"

_ID = r"^[a-z0-9][a-z0-9._-]{0,127}$"
_NAME = r"^[a-z0-9][a-z0-9-]{0,63}$"
_TAG = r"^[A-Za-z0-9_*?][A-Za-z0-9_.*?-]{0,127}$"
_DIGEST = r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9.-]+(?::[0-9]{1,5})?|\[[a-f0-9:]+\](?::[0-9]{1,5})?)"
_REPOSITORY = rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DURATION = r"^[0-9]{1,6}\s*[mhdw]$"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _text(description: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "description": description}


def _date(description: str) -> dict[str, Any]:
    return {"type": "string", "format": "date", "pattern": _DATE, "description": description}


def _list(items: dict[str, Any], description: str) -> dict[str, Any]:
    return _nullable(
        {"type": "array", "items": items, "uniqueItems": True, "description": description}
    )


def catalog_schema() -> dict[str, Any]:
    """The schema, as a JSON-ready dict."""
    tags = _list({"type": "string", "pattern": _TAG}, "Allowed tags; * and ? are wildcards.")
    digests = _list({"type": "string", "pattern": _DIGEST}, "Pinned manifest digests.")
    non_empty = {"type": "array", "minItems": 1}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "baseguard catalog",
        "description": "Approved base images with owners, lifecycle, EOL, patch SLA, "
        "required attestations, and time-limited exceptions.",
        "type": "object",
        "additionalProperties": False,
        "required": ["version"],
        "properties": {
            "version": {"const": CATALOG_VERSION},
            "entries": _nullable({"type": "array", "items": {"$ref": "#/$defs/entry"}}),
            "exceptions": _nullable({"type": "array", "items": {"$ref": "#/$defs/exception"}}),
        },
        "$defs": {
            "entry": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "provider", "repository"],
                "anyOf": [
                    {"required": ["tags"], "properties": {"tags": non_empty}},
                    {"required": ["digests"], "properties": {"digests": non_empty}},
                    {"required": ["variants"], "properties": {"variants": non_empty}},
                ],
                "properties": {
                    "id": {"type": "string", "pattern": _ID},
                    "provider": {
                        "type": "string",
                        "pattern": _NAME,
                        "examples": list(KNOWN_PROVIDERS),
                    },
                    "repository": {
                        "type": "string",
                        "pattern": _REPOSITORY,
                        "description": "registry/name, without tag or digest.",
                        "examples": ["cgr.dev/chainguard/python"],
                    },
                    "tags": tags,
                    "digests": digests,
                    "variants": _nullable({"type": "array", "items": {"$ref": "#/$defs/variant"}}),
                    "runtime": _nullable({"$ref": "#/$defs/runtime"}),
                    "owner": _nullable({"$ref": "#/$defs/owner"}),
                    "lifecycle": _nullable({"$ref": "#/$defs/lifecycle"}),
                    "eol": _nullable(_date("End of life: past it, uses are past-EOL.")),
                    "patch_sla": _nullable({"$ref": "#/$defs/patchSla"}),
                    "attestations": _nullable({"$ref": "#/$defs/attestations"}),
                    "dev_in_production": _nullable(
                        {"type": "boolean", "description": "Allow dev variants outside builds."}
                    ),
                    "replaced_by": _nullable({"type": "string", "pattern": _ID}),
                    "notes": _nullable({"type": "string"}),
                },
            },
            "variant": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "anyOf": [
                    {"required": ["tags"], "properties": {"tags": non_empty}},
                    {"required": ["digests"], "properties": {"digests": non_empty}},
                ],
                "properties": {
                    "name": {"type": "string", "pattern": _ID},
                    "tags": tags,
                    "digests": digests,
                    "dev": _nullable(
                        {
                            "type": "boolean",
                            "description": "Has a shell or package manager: build stages only.",
                        }
                    ),
                },
            },
            "runtime": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "pattern": _NAME},
                    "version": _nullable(_text('Quoted: "3.10", not 3.10.')),
                    "libc": {"enum": [*LIBCS, None]},
                },
            },
            "owner": {
                "type": "object",
                "additionalProperties": False,
                "required": ["team", "contact"],
                "properties": {"team": _text("Owning team."), "contact": _text("How to reach it.")},
            },
            "lifecycle": {
                "type": "object",
                "additionalProperties": False,
                "required": ["state"],
                "properties": {
                    "state": {"enum": list(STATES)},
                    "history": _nullable(
                        {"type": "array", "items": {"$ref": "#/$defs/transition"}}
                    ),
                },
            },
            "transition": {
                "type": "object",
                "additionalProperties": False,
                "required": ["state", "date", "actor"],
                "properties": {
                    "state": {"enum": list(STATES)},
                    "date": _date("When the state was entered."),
                    "actor": _text("Who made the change."),
                    "reason": _nullable({"type": "string"}),
                },
            },
            "patchSla": {
                "type": "object",
                "additionalProperties": False,
                "minProperties": 1,
                "properties": {
                    s: _nullable({"type": "string", "pattern": _DURATION}) for s in SLA_SEVERITIES
                },
            },
            "attestations": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "signature": _nullable({"$ref": "#/$defs/signature"}),
                    "slsa_level": _nullable({"type": "integer", "minimum": 0, "maximum": 4}),
                    "sbom": _nullable({"type": "boolean"}),
                    "vex": _nullable({"type": "boolean"}),
                },
            },
            "signature": {
                "oneOf": [
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["key"],
                        "properties": {"key": _text("PEM public key file (cosign).")},
                    },
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["identity", "issuer"],
                        "properties": {
                            "identity": _text("Keyless signer identity (certificate SAN)."),
                            "issuer": _text("OIDC issuer of the identity."),
                        },
                    },
                ]
            },
            "exception": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "pattern", "justification", "approver", "created", "expires"],
                "properties": {
                    "id": {"type": "string", "pattern": _ID},
                    "pattern": _text("Image reference glob, e.g. docker.io/library/postgres:*."),
                    "justification": _text("Why the exception is needed."),
                    "approver": _text("Who approved it."),
                    "created": _date("When it was granted."),
                    "expires": _date("Last day it counts."),
                },
            },
        },
    }


def schema_json() -> str:
    """The schema as published: indented JSON with a final newline."""
    return json.dumps(catalog_schema(), indent=2) + "\n"


def yaml_to_json(value: Any) -> Any:
    """A loaded YAML document as JSON data: dates become ``YYYY-MM-DD`` strings."""
    if isinstance(value, Mapping):
        return {str(k): yaml_to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [yaml_to_json(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
