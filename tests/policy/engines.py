"""Evaluate generated policies the way each engine does, on one AdmissionReview.

* Gatekeeper: the ConstraintTemplate's Rego in regorus (v0 syntax), ``input.review`` the
  AdmissionRequest and ``input.parameters`` the Constraint's; the clock is fixed with
  ``with time.now_ns as …``; ``spec.match`` (kinds, excludedNamespaces) applied as Gatekeeper
  does for the namespaced case.
* ValidatingAdmissionPolicy: matchConditions, variables and validations in the
  ``common-expression-language`` CEL library, with ``object``, ``oldObject``, ``request`` and
  ``params`` (null: the policy has no paramKind) bound as the API server binds them; the first
  failing validation's messageExpression is the answer.
* Kyverno: an emulation of the subset of Kyverno the generator emits (documented as such):
  match/exclude by kind, operation and namespace; ``foreach.list`` and ``{{ … }}`` evaluated
  with the ``jmespath`` library plus Kyverno's ``regex_match``, ``time_now_utc`` and
  ``time_before`` functions; ``deny.conditions.all`` with ``Equals``; wildcards with
  :func:`kyverno_wildcard`, Kyverno's matcher (go-wildcard v2).

Each returns a :class:`Decision`: allowed, and the reason keyword (the first refusal, or
``approved``-like for an allowed request: the tests compare refusals only).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

EXEMPT = "exempt-namespace"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str | None  # the refusal's keyword; EXEMPT when not judged; None when admitted
    message: str = ""


def noon(today: str) -> datetime:
    return datetime.fromisoformat(f"{today}T12:00:00+00:00")


def reason_of(message: str) -> str:
    """The keyword a generated message starts with (``baseguard: retired: …`` or ``retired: …``)."""
    text = message.removeprefix("baseguard: ")
    return text.split(":", 1)[0]


# ----------------------------------------------------------------------------- Gatekeeper


def gatekeeper(
    template: dict[str, Any], constraint: dict[str, Any], review: dict[str, Any], now: datetime
) -> Decision:
    import regorus

    request = review["request"]
    match = constraint["spec"].get("match", {})
    if request.get("namespace") in match.get("excludedNamespaces", []):
        return Decision(True, EXEMPT)
    kinds = {k for group in match.get("kinds", []) for k in group["kinds"]}
    if request["kind"]["kind"] not in kinds:
        return Decision(True, EXEMPT)
    engine = regorus.Engine()
    engine.set_rego_v0(True)
    engine.add_policy("template.rego", template["spec"]["targets"][0]["rego"])
    engine.set_input({"review": request, "parameters": constraint["spec"]["parameters"]})
    ns = int(now.timestamp()) * 1_000_000_000
    package = template["spec"]["crd"]["spec"]["names"]["kind"].lower()
    out = json.loads(
        engine.eval_query_as_json(f"v := data.{package}.violation with time.now_ns as {ns}")
    )
    violations = out["result"][0]["bindings"]["v"]
    if not violations:
        return Decision(True, None)
    order = ["initContainers", "containers", "ephemeralContainers"]
    first = sorted(violations, key=lambda v: order.index(v["msg"].split(" ", 1)[0]))[0]
    return Decision(False, first["details"]["reason"], first["msg"])


# ----------------------------------------------------------------------------- VAP (CEL)


def vap(policy: dict[str, Any], binding: dict[str, Any], review: dict[str, Any]) -> Decision:
    import cel

    request = review["request"]
    spec = policy["spec"]
    ctx: dict[str, Any] = {
        "object": request["object"],
        "oldObject": request.get("oldObject"),
        "request": request,
        "params": None,
    }
    resource = request["resource"]["resource"]
    if request.get("subResource"):
        resource += "/" + request["subResource"]
    rules = spec["matchConstraints"]["resourceRules"]
    if not any(
        request["resource"]["group"] in r["apiGroups"]
        and resource in r["resources"]
        and request["operation"] in r["operations"]
        for r in rules
    ):
        return Decision(True, EXEMPT)
    for condition in spec.get("matchConditions", []):
        if cel.evaluate(condition["expression"], ctx) is not True:
            return Decision(True, EXEMPT)
    variables: dict[str, Any] = {}
    for variable in spec.get("variables", []):
        variables[variable["name"]] = cel.evaluate(
            variable["expression"], {**ctx, "variables": variables}
        )
    for validation in spec["validations"]:
        scope = {**ctx, "variables": variables}
        if cel.evaluate(validation["expression"], scope) is not True:
            message = cel.evaluate(validation["messageExpression"], scope)
            assert isinstance(message, str)
            return Decision(False, reason_of(message), message)
    return Decision(True, None)


# ----------------------------------------------------------------------------- Kyverno


def kyverno_wildcard(pattern: str, text: str) -> bool:
    """Kyverno's wildcard match (ext/wildcard → go-wildcard v2): ``*`` any run of characters
    (``/`` included), ``?`` and ``.`` exactly one character each, anything else literal.

    go-wildcard v2 reads ``.`` as a one-character wildcard (its own tests match ``Th.e``
    against ``These``); this is why the generated validate rules use ``regex_match`` and
    only ``verifyImages.imageReferences`` (where over-matching asks for more signatures, never
    fewer) uses wildcards. A trailing ``?`` matching nothing (an edge of go-wildcard's loop)
    is not modelled.
    """
    regex = "".join(".*" if c == "*" else "." if c in "?." else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def _functions(now: datetime) -> Any:
    import jmespath
    from jmespath import functions

    class KyvernoFunctions(functions.Functions):  # type: ignore[misc]
        @functions.signature({"types": ["string"]}, {"types": ["string", "number"]})
        def _func_regex_match(self, regex: str, value: Any) -> bool:
            return re.search(regex, str(value)) is not None

        @functions.signature()
        def _func_time_now_utc(self) -> str:
            return now.strftime("%Y-%m-%dT%H:%M:%SZ")

        @functions.signature({"types": ["string"]}, {"types": ["string"]})
        def _func_time_before(self, a: str, b: str) -> bool:
            parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
            return parse(a) < parse(b)

    return jmespath.Options(custom_functions=KyvernoFunctions())


def _substitute(text: Any, data: dict[str, Any], options: Any) -> Any:
    """Kyverno variable substitution for a value that is exactly one ``{{ expression }}``, or
    text with ``{{ expression }}`` parts rendered as strings."""
    import jmespath

    if not isinstance(text, str):
        return text
    whole = re.fullmatch(r"\{\{\s*(.+?)\s*\}\}", text, flags=re.DOTALL)
    if whole:
        return jmespath.search(whole.group(1), data, options=options)
    return re.sub(
        r"\{\{\s*(.+?)\s*\}\}",
        lambda m: str(jmespath.search(m.group(1), data, options=options)),
        text,
    )


def _kind_matches(resources: dict[str, Any], request: dict[str, Any]) -> bool:
    """``Pod`` matches the pods/ephemeralcontainers subresource too: the reference
    restrict-image-registries chainsaw test expects `kubectl debug` refused by a Pod rule."""
    kind = request["kind"]["kind"]
    kinds = resources.get("kinds", [])
    sub = request.get("subResource")
    if sub and sub != "ephemeralcontainers" and f"{kind}/{sub}" not in kinds:
        return False
    return kind in kinds and request["operation"] in resources.get(
        "operations", [request["operation"]]
    )


def kyverno_rule_applies(rule: dict[str, Any], request: dict[str, Any]) -> bool:
    if not any(_kind_matches(f["resources"], request) for f in rule["match"]["any"]):
        return False
    for f in rule.get("exclude", {}).get("any", []):
        if request.get("namespace") in f["resources"].get("namespaces", []):
            return False
    return True


def kyverno(policy: dict[str, Any], review: dict[str, Any], now: datetime) -> Decision:
    """The first failing validate rule of ``policy`` for ``review`` (deny conditions only)."""
    import jmespath

    request = review["request"]
    options = _functions(now)
    applied = False
    for rule in policy["spec"]["rules"]:
        if not kyverno_rule_applies(rule, request):
            continue
        applied = True
        for each in rule["validate"]["foreach"]:
            elements = jmespath.search(each["list"], {"request": request}, options=options) or []
            for element in elements:
                data = {"request": request, "element": element}
                conditions = each["deny"]["conditions"]["all"]
                if all(_condition(c, data, options) for c in conditions):
                    message = _substitute(rule["validate"]["message"], data, options)
                    return Decision(False, reason_of(message), message)
    return Decision(True, None if applied else EXEMPT)


def _condition(condition: dict[str, Any], data: dict[str, Any], options: Any) -> bool:
    key = _substitute(condition["key"], data, options)
    value = condition["value"]
    operator = condition["operator"]
    if operator == "Equals":
        return bool(key == value)
    if operator in ("AnyIn", "AnyNotIn"):
        keys = key if isinstance(key, list) else [key]
        hit = any(kyverno_wildcard(v, k) for k in keys for v in value)
        return hit if operator == "AnyIn" else not hit
    raise AssertionError(f"operator {operator} is not emulated")
