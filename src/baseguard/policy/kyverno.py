"""Kyverno: a ClusterPolicy of validate rules, and one of ``verifyImages`` rules.

``<name>`` refuses, per container (containers, initContainers, ephemeralContainers) of Pods,
pod controllers and CronJobs (explicit rules; Kyverno's autogen is turned off for it). A rule
on ``Pod`` also judges ``kubectl debug`` (the ``pods/ephemeralcontainers`` subresource), as
the reference restrict-image-registries chainsaw test relies on; naming the subresource kind
would rule out ``background: true``:

* ``require-digest``: the image is not pinned by digest;
* ``not-in-catalog``: no catalog rule's patterns match the image;
* ``deny-<rule>``: the image's best catalog match (the rule's patterns, and none of the
  better-ranked patterns of the same repository) is retired, proposed, a dev variant, or past
  its end of life (``time_before(time_now_utc(), …)``).

Patterns are Kyverno wildcards per repository spelling (``registry.io/org/app@sha256:…``,
``docker.io/library/alpine:3.22.*@*``): the repository is always spelled out whole, so
``registry.io/org`` can never admit ``registry.io/org-evil/x``. Each refusal also carries one
condition per catalog exception, ``regex_match(…) && !time_before(now, created) &&
time_before(now, expires+1d)`` equal to false: a live exception lifts the refusal, an expired
one no longer does, without regenerating the policy.

``<name>-signatures`` has one ``verifyImages`` rule per catalog entry with a signature
requirement: the keyless identity or public key, the required attestations (SLSA provenance,
SBOM, VEX predicate types), ``mutateDigest`` and ``verifyDigest``.
"""

from __future__ import annotations

from typing import Any

from baseguard.policy.base import (
    CONTAINER_FIELDS,
    DEV_VARIANT,
    DIGEST_REQUIRED,
    HAS_DIGEST_RE,
    INVALID_REFERENCE,
    NOT_IN_CATALOG,
    PAST_EOL,
    PROPOSED,
    REKOR_URL,
    RETIRED,
    TEMPLATE_KINDS,
    VALID_PINNED_RE,
    CompiledCatalog,
    ExceptionRule,
    Generated,
    ImageRule,
    PolicyGenerator,
    PolicyOptions,
    Resource,
    SignedEntry,
    labels,
    repository_spellings,
    rfc3339,
)

IMAGE = "{{ element.image }}"

_LIST = "[" + ", ".join(CONTAINER_FIELDS) + "][]"
#: (rule name suffix, kinds, path to the pod spec)
TARGETS = (
    ("", ["Pod"], "request.object.spec"),
    ("-controllers", sorted(TEMPLATE_KINDS), "request.object.spec.template.spec"),
    ("-cronjobs", ["CronJob"], "request.object.spec.jobTemplate.spec.template.spec"),
)
MESSAGES = {
    DIGEST_REQUIRED: "must be pinned by digest (image@sha256:...)",
    INVALID_REFERENCE: "is not a valid image reference",
    NOT_IN_CATALOG: "is not allowed by the catalog (exact repository, allowed tag, pinned digest)",
    RETIRED: "belongs to catalog entry {entry}, which is retired",
    PAST_EOL: "belongs to catalog entry {entry}, past its end of life",
    PROPOSED: "belongs to catalog entry {entry}, which is only proposed",
    DEV_VARIANT: "is a dev variant of catalog entry {entry}, allowed only in build stages",
}
REASON_RANK = {RETIRED: 0, PAST_EOL: 1, PROPOSED: 2, DEV_VARIANT: 3}


def _now_before(moment: str) -> str:
    return f"time_before(time_now_utc(), '{moment}')"


def _regex(regex: str, expected: bool) -> dict[str, Any]:
    """``regex_match(regex, element.image)`` must be ``expected`` for the refusal to hold."""
    if "'" in regex:  # never: the regexes are built from references, which cannot hold '
        raise ValueError(f"regex {regex!r} cannot be a JMESPath raw string")
    key = "{{ regex_match('" + regex + "', element.image) }}"
    return {"key": key, "operator": "Equals", "value": expected}


def any_of(regexes: list[str]) -> str:
    """One anchored alternation of anchored regexes."""
    return "^(?:" + "|".join(r.removeprefix("^").removesuffix("$") for r in regexes) + ")$"


def exception_condition(x: ExceptionRule) -> dict[str, Any]:
    """True (so the refusal holds) unless exception ``x`` covers the image and is live now."""
    live = (
        f"regex_match('{x.raw_regex()}', element.image) && "
        f"!{_now_before(rfc3339(x.start))} && {_now_before(rfc3339(x.end))}"
    )
    return {"key": "{{ " + live + " }}", "operator": "Equals", "value": False}


def _match(kinds: list[str], options: PolicyOptions) -> dict[str, Any]:
    resources: dict[str, Any] = {"kinds": kinds, "operations": ["CREATE", "UPDATE"]}
    if options.opt_in_label:
        key, value = options.opt_in_label
        resources["namespaceSelector"] = {"matchLabels": {key: value}}
    return {"any": [{"resources": resources}]}


def _exclude(options: PolicyOptions) -> dict[str, Any] | None:
    if not options.exempt_namespaces:
        return None
    return {"any": [{"resources": {"namespaces": sorted(options.exempt_namespaces)}}]}


def _rule(
    name: str,
    kinds: list[str],
    spec_path: str,
    message: str,
    conditions: list[dict[str, Any]],
    options: PolicyOptions,
) -> dict[str, Any]:
    rule: dict[str, Any] = {"name": name, "match": _match(kinds, options)}
    exclude = _exclude(options)
    if exclude:
        rule["exclude"] = exclude
    rule["validate"] = {
        "message": message,
        "foreach": [
            {
                "list": f"{spec_path}.{_LIST}",
                "deny": {"conditions": {"all": conditions}},
            }
        ],
    }
    return rule


def _refusals(compiled: CompiledCatalog) -> list[tuple[str, str, ImageRule, list[dict[str, Any]]]]:
    """(reason, rule name, catalog rule, conditions) for every refusal a match can lead to.

    A catalog rule refuses only when it is the image's best match: its regex matches and no
    better-ranked rule of the same repository does.
    """
    out = []
    for index, rule in enumerate(compiled.rules):
        better = [o.raw_regex() for o in compiled.rules[:index] if o.repository == rule.repository]
        base = [_regex(rule.raw_regex(), True)]
        if better:
            base.append(_regex(any_of(better), False))
        eol = rfc3339(rule.eol_end) if rule.eol_end else None
        if rule.reason == RETIRED:
            out.append((RETIRED, f"deny-{rule.id}", rule, base))
            continue
        if eol:
            past = {"key": "{{ " + _now_before(eol) + " }}", "operator": "Equals", "value": False}
            out.append((PAST_EOL, f"deny-{rule.id}-past-eol", rule, [*base, past]))
        if rule.reason:
            before = []
            if eol:
                before = [
                    {"key": "{{ " + _now_before(eol) + " }}", "operator": "Equals", "value": True}
                ]
            out.append((rule.reason, f"deny-{rule.id}", rule, [*base, *before]))
    out.sort(key=lambda item: REASON_RANK[item[0]])
    return out


def refusal_rules(compiled: CompiledCatalog) -> list[tuple[str, str, str, list[dict[str, Any]]]]:
    """(rule name, reason, message text, conditions) in report order, for any pod spec."""
    exceptions = [exception_condition(x) for x in compiled.exceptions]
    out: list[tuple[str, str, str, list[dict[str, Any]]]] = [
        (
            "require-digest",
            DIGEST_REQUIRED,
            MESSAGES[DIGEST_REQUIRED],
            [_regex(HAS_DIGEST_RE, False)],
        ),
        (
            INVALID_REFERENCE,
            INVALID_REFERENCE,
            MESSAGES[INVALID_REFERENCE],
            [_regex(HAS_DIGEST_RE, True), _regex(VALID_PINNED_RE, False)],
        ),
    ]
    if compiled.rules:
        catalog = [_regex(any_of([r.raw_regex() for r in compiled.rules]), False)]
    else:  # an empty catalog admits nothing
        catalog = [{"key": "{{ `true` }}", "operator": "Equals", "value": True}]
    out.append((NOT_IN_CATALOG, NOT_IN_CATALOG, MESSAGES[NOT_IN_CATALOG], [*catalog, *exceptions]))
    for reason, name, rule, conditions in _refusals(compiled):
        text = MESSAGES[reason].format(entry=rule.entry)
        out.append((name, reason, text, [*conditions, *exceptions]))
    return out


def validate_policy(compiled: CompiledCatalog, options: PolicyOptions) -> dict[str, Any]:
    refusals = refusal_rules(compiled)
    rules = [
        _rule(
            f"{name}{suffix}",
            kinds,
            spec_path,
            f"baseguard: {reason}: image {IMAGE} {text}",
            conditions,
            options,
        )
        for suffix, kinds, spec_path in TARGETS
        for name, reason, text, conditions in refusals
    ]
    spec: dict[str, Any] = {
        "validationFailureAction": "Enforce" if options.enforce else "Audit",
        "background": True,
    }
    if not options.enforce:
        spec["emitWarning"] = True
    spec["rules"] = rules
    return {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {
            "name": options.name,
            "labels": labels(),
            "annotations": {
                "policies.kyverno.io/title": "baseguard catalog images",
                "policies.kyverno.io/category": "Software Supply Chain Security",
                "policies.kyverno.io/subject": "Pod",
                "policies.kyverno.io/minversion": "1.10.0",
                "pod-policies.kyverno.io/autogen-controllers": "none",
                "policies.kyverno.io/description": (
                    "Only images the baseguard catalog allows, pinned by digest: exact "
                    "repositories, allowed tags or pinned digests; retired, proposed, dev "
                    "variant and past-EOL images refused; exceptions until they expire."
                ),
            },
        },
        "spec": spec,
    }


def _attestor(signed: SignedEntry) -> dict[str, Any]:
    if signed.key_pem is not None:
        return {"keys": {"publicKeys": signed.key_pem}}
    return {
        "keyless": {
            "subject": signed.signature.identity,
            "issuer": signed.signature.issuer,
            "rekor": {"url": REKOR_URL},
        }
    }


def image_references(repository: str) -> list[str]:
    """``R:*`` and ``R@*`` for every spelling: the repository exactly, any tag or digest."""
    return [f"{s}{sep}*" for s in repository_spellings(repository) for sep in (":", "@")]


def signatures_policy(compiled: CompiledCatalog, options: PolicyOptions) -> dict[str, Any] | None:
    if not compiled.signed:
        return None
    rules = []
    for signed in compiled.signed:
        attestors = [{"count": 1, "entries": [_attestor(signed)]}]
        verify: dict[str, Any] = {
            "imageReferences": image_references(signed.repository),
            "mutateDigest": True,
            "verifyDigest": True,
            "required": True,
            "attestors": attestors,
        }
        if signed.attestations:
            verify["attestations"] = [
                {"predicateType": predicate, "attestors": attestors}
                for _, predicate in signed.attestations
            ]
        rule: dict[str, Any] = {
            "name": f"verify-{signed.entry}",
            "match": _match(["Pod"], options),
        }
        exclude = _exclude(options)
        if exclude:
            rule["exclude"] = exclude
        rule["verifyImages"] = [verify]
        rules.append(rule)
    return {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {
            "name": f"{options.name}-signatures",
            "labels": labels(),
            "annotations": {
                "policies.kyverno.io/title": "baseguard catalog signatures and attestations",
                "policies.kyverno.io/category": "Software Supply Chain Security",
                "policies.kyverno.io/subject": "Pod",
                "policies.kyverno.io/minversion": "1.10.0",
            },
        },
        "spec": {
            "validationFailureAction": "Enforce" if options.enforce else "Audit",
            "background": False,
            "webhookTimeoutSeconds": 30,
            "rules": rules,
        },
    }


class KyvernoGenerator(PolicyGenerator):
    name = "kyverno"
    description = "Kyverno ClusterPolicies (validate rules; verifyImages with attestations)"

    def generate(self, compiled: CompiledCatalog, options: PolicyOptions) -> Generated:
        resources = [Resource(validate_policy(compiled, options))]
        signatures = signatures_policy(compiled, options)
        if signatures is not None:
            resources.append(Resource(signatures))
        return Generated(resources)
