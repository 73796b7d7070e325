"""Kubernetes ValidatingAdmissionPolicy (CEL) and its binding.

The catalog is compiled into the policy's variables: ``rules`` (in catalog precedence order,
each a regex over the image as written, with every spelling of its repository) and
``exceptions``. One validation per refusal reason, in the order the other engines report
them, so the first failing validation names the reason.

CEL in Kubernetes has no clock. The API server stamps ``metadata.creationTimestamp`` before
validating admission on CREATE, and ``managedFields[].time`` when a manager changes fields
on UPDATE; the policy takes the newest of those as the request time (``variables.stamps``),
so expiries and end-of-life dates still take effect without regenerating the policy. The
expressions keep to the CEL core (``matches``, macros, ``timestamp``) that every CEL
implementation has.
"""

from __future__ import annotations

from typing import Any

from baseguard.policy.base import (
    DEV_VARIANT,
    DIGEST_REQUIRED,
    HAS_DIGEST_RE,
    INVALID_REFERENCE,
    NOT_IN_CATALOG,
    PAST_EOL,
    PROPOSED,
    RETIRED,
    VALID_PINNED_RE,
    WORKLOAD_KINDS,
    CompiledCatalog,
    Generated,
    PolicyGenerator,
    PolicyOptions,
    Resource,
    labels,
    rfc3339,
)


def cel_string(text: str) -> str:
    """A single-quoted CEL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def cel_list_of_maps(items: list[dict[str, str]]) -> str:
    """``[{'k': 'v', …}, …]``, every value a string (homogeneous literals, as Kubernetes wants)."""
    maps = [
        "{" + ", ".join(f"{cel_string(k)}: {cel_string(v)}" for k, v in item.items()) + "}"
        for item in items
    ]
    return "[" + ", ".join(maps) + "]"


POD_SPEC = (
    "object.kind == 'Pod' ? object.spec : "
    "object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : "
    "object.spec.template.spec"
)
IMAGES = " + ".join(
    f"(has(variables.podSpec.{f}) ? variables.podSpec.{f}.map(c, c.image) : [])"
    for f in ("initContainers", "containers", "ephemeralContainers")
)
STAMPS = (
    "(has(object.metadata.creationTimestamp) ? [object.metadata.creationTimestamp] : []) + "
    "(has(object.metadata.managedFields) ? "
    "object.metadata.managedFields.filter(f, has(f.time)).map(f, f.time) : [])"
)

MATCHES = "variables.rules.exists(r, i.matches(r.re))"
FIRST = "variables.rules.filter(r, i.matches(r.re))[0]"
EXCEPTED = (
    "variables.exceptions.exists(x, i.matches(x.re) && "
    "variables.stamps.exists(t, timestamp(t) >= timestamp(x.start)) && "
    "variables.stamps.all(t, timestamp(t) < timestamp(x.end)))"
)


def _image_ok(reason: str) -> str:
    """The CEL predicate, over image ``i``, that ``reason`` does not refuse it."""
    if reason == DIGEST_REQUIRED:
        return f"i.matches({cel_string(HAS_DIGEST_RE)})"
    if reason == INVALID_REFERENCE:
        return f"i.matches({cel_string(VALID_PINNED_RE)})"
    if reason == NOT_IN_CATALOG:
        return f"{MATCHES} || {EXCEPTED}"
    if reason == PAST_EOL:
        return (
            f"!{MATCHES} || {FIRST}.eolEnd == '' || "
            f"!variables.stamps.exists(t, timestamp(t) >= timestamp({FIRST}.eolEnd)) || "
            f"{EXCEPTED}"
        )
    return f"!{MATCHES} || {FIRST}.reason != {cel_string(reason)} || {EXCEPTED}"


MESSAGES = {
    DIGEST_REQUIRED: "must be pinned by digest (image@sha256:...)",
    INVALID_REFERENCE: "is not a valid image reference",
    NOT_IN_CATALOG: "is not allowed by the catalog (exact repository, allowed tag, pinned digest)",
    RETIRED: "belongs to a retired catalog entry",
    PAST_EOL: "belongs to a catalog entry past its end of life",
    PROPOSED: "belongs to a catalog entry that is only proposed",
    DEV_VARIANT: "is a dev variant, allowed only in build stages",
}
ORDER = (
    DIGEST_REQUIRED,
    INVALID_REFERENCE,
    NOT_IN_CATALOG,
    RETIRED,
    PAST_EOL,
    PROPOSED,
    DEV_VARIANT,
)


def validations() -> list[dict[str, str]]:
    """One validation per refusal, in report order; the message names reason and image."""
    out = []
    for reason in ORDER:
        ok = _image_ok(reason)
        out.append(
            {
                "expression": f"variables.images.all(i, {ok})",
                "messageExpression": (
                    f"{cel_string(reason + ': image ')} + "
                    f"variables.images.filter(i, !({ok}))[0] + "
                    f"{cel_string(' ' + MESSAGES[reason])}"
                ),
                "message": f"{reason}: an image {MESSAGES[reason]}",
                "reason": "Forbidden",
            }
        )
    return out


def variables(compiled: CompiledCatalog) -> list[dict[str, str]]:
    rules = [
        {
            "id": r.id,
            "entry": r.entry,
            "re": r.raw_regex(),
            "reason": r.reason,
            "eolEnd": rfc3339(r.eol_end) if r.eol_end else "",
        }
        for r in compiled.rules
    ]
    exceptions = [
        {"id": x.id, "re": x.raw_regex(), "start": rfc3339(x.start), "end": rfc3339(x.end)}
        for x in compiled.exceptions
    ]
    return [
        {"name": "podSpec", "expression": POD_SPEC},
        {"name": "images", "expression": IMAGES},
        {"name": "stamps", "expression": STAMPS},
        {"name": "rules", "expression": cel_list_of_maps(rules)},
        {"name": "exceptions", "expression": cel_list_of_maps(exceptions)},
    ]


def resource_rules() -> list[dict[str, Any]]:
    groups: dict[str, list[str]] = {}
    for _kind, (group, _, plural) in WORKLOAD_KINDS.items():
        groups.setdefault(group, []).append(plural)
    groups[""].append("pods/ephemeralcontainers")
    return [
        {
            "apiGroups": [group],
            "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": sorted(plurals),
            "scope": "Namespaced",
        }
        for group, plurals in sorted(groups.items())
    ]


class VapGenerator(PolicyGenerator):
    name = "vap"
    description = "Kubernetes ValidatingAdmissionPolicy (CEL) and binding"

    def generate(self, compiled: CompiledCatalog, options: PolicyOptions) -> Generated:
        conditions = []
        if options.exempt_namespaces:
            names = ", ".join(cel_string(n) for n in sorted(options.exempt_namespaces))
            conditions.append(
                {"name": "not-exempt-namespace", "expression": f"!(request.namespace in [{names}])"}
            )
        policy = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": options.name, "labels": labels()},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": resource_rules()},
                **({"matchConditions": conditions} if conditions else {}),
                "variables": variables(compiled),
                "validations": validations(),
            },
        }
        match_resources: dict[str, Any] = {}
        if options.opt_in_label:
            key, value = options.opt_in_label
            match_resources["namespaceSelector"] = {"matchLabels": {key: value}}
        binding_spec: dict[str, Any] = {
            "policyName": options.name,
            "validationActions": ["Deny"] if options.enforce else ["Warn", "Audit"],
        }
        if match_resources:
            binding_spec["matchResources"] = match_resources
        binding = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": options.name, "labels": labels()},
            "spec": binding_spec,
        }
        return Generated([Resource(policy), Resource(binding)])
