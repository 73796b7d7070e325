"""Gatekeeper: a ConstraintTemplate (Rego, v0 syntax as Gatekeeper runs it) and its Constraint.

The template holds the logic, the Constraint the catalog: ``parameters.rules`` (in catalog
precedence order), ``parameters.exceptions`` and the patterns as regexes. The Rego parses
each image the way :func:`baseguard.refs.parse_reference` does (registry detection, Docker
Hub aliases, ``library/``), compares the repository for equality, takes the first matching
rule, and reads the clock with ``time.now_ns()`` so that exceptions expire and entries reach
end of life without regenerating anything (Gatekeeper's audit sees it too).
"""

from __future__ import annotations

from typing import Any

from baseguard.policy.base import (
    CONTAINER_FIELDS,
    DIGEST_RE,
    HAS_DIGEST_RE,
    PATH_COMPONENT_RE,
    TAG_RE,
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

KIND = "BaseguardCatalogImages"
TEMPLATE_NAME = KIND.lower()
PACKAGE = "baseguardcatalogimages"

REGO = r"""package baseguardcatalogimages

# baseguard: only catalog images, pinned by digest (generated; do not edit).
# input.review is the AdmissionRequest; input.parameters the Constraint's parameters.

now_ns = time.now_ns()

template_kinds := {__TEMPLATE_KINDS__}

pod_spec = s {
	input.review.object.kind == "Pod"
	s := input.review.object.spec
}

pod_spec = s {
	input.review.object.kind == "CronJob"
	s := input.review.object.spec.jobTemplate.spec.template.spec
}

pod_spec = s {
	template_kinds[input.review.object.kind]
	s := input.review.object.spec.template.spec
}

container[c] {
	f := __FIELDS__[_]
	x := pod_spec[f][_]
	c := {"field": f, "name": x.name, "image": x.image}
}

violation[{"msg": msg, "details": {"reason": reason, "image": c.image, "container": c.name}}] {
	c := container[_]
	reason := image_problem(c.image)
	reason != "allowed"
	why := explain(c.image, reason)
	msg := sprintf("%s %v: image %v is refused: %v%v", [c.field, c.name, c.image, reason, why])
}

image_problem(image) = "digest-required" {
	not regex.match(`__HAS_DIGEST__`, image)
} else = "invalid-reference" {
	not regex.match(`__VALID__`, image)
} else = "allowed" {
	excepted(parse(image))
} else = v {
	v := verdict(parse(image))
}

# --- parse a reference as baseguard.refs.parse_reference does ---------------------------

parse(image) = ref {
	at := indexof(image, "@")
	rest := substring(image, 0, at)
	digest := substring(image, at + 1, -1)
	comps := split(rest, "/")
	n := count(comps)
	last := comps[n - 1]
	tag := tag_of(last)
	lastname := name_of(last)
	names := array.concat(array.slice(comps, 0, n - 1), [lastname])
	reg_path := registry_path(names)
	name := concat("/", [reg_path[0], reg_path[1]])
	ref := {"name": name, "tag": tag, "digest": digest, "full": full(name, tag, digest)}
}

tag_of(last) = t {
	parts := split(last, ":")
	count(parts) == 2
	t := parts[1]
} else = "" {
	true
}

name_of(last) = n {
	n := split(last, ":")[0]
}

is_registry(first) {
	contains(first, ".")
}

is_registry(first) {
	contains(first, ":")
}

is_registry(first) {
	first == "localhost"
}

is_registry(first) {
	startswith(first, "[")
}

registry_path(names) = [reg, path] {
	count(names) > 1
	is_registry(names[0])
	reg := hub(lower(names[0]))
	path := library(reg, concat("/", array.slice(names, 1, count(names))))
} else = [reg, path] {
	reg := "docker.io"
	path := library(reg, concat("/", names))
}

hub(r) = "docker.io" {
	{"docker.io", "index.docker.io", "registry-1.docker.io"}[r]
} else = r {
	true
}

library(reg, path) = p {
	reg == "docker.io"
	not contains(path, "/")
	p := concat("/", ["library", path])
} else = path {
	true
}

full(name, tag, digest) = f {
	tag != ""
	f := sprintf("%s:%s@%s", [name, tag, digest])
} else = f {
	f := sprintf("%s@%s", [name, digest])
}

# --- the catalog --------------------------------------------------------------------------

rule_matches(r, ref) {
	r.repository == ref.name
	r.kind == "digest"
	r.values[_] == ref.digest
}

rule_matches(r, ref) {
	r.repository == ref.name
	r.kind != "digest"
	ref.tag != ""
	regex.match(r.tagRegex, ref.tag)
}

first_rule(ref) = r {
	hits := {i | rule_matches(input.parameters.rules[i], ref)}
	count(hits) > 0
	r := input.parameters.rules[min(hits)]
}

verdict(ref) = "not-in-catalog" {
	not first_rule(ref)
} else = "retired" {
	r := first_rule(ref)
	r.reason == "retired"
} else = "past-eol" {
	r := first_rule(ref)
	r.eolEnd != ""
	now_ns >= time.parse_rfc3339_ns(r.eolEnd)
} else = reason {
	r := first_rule(ref)
	reason := r.reason
	reason != ""
} else = "allowed" {
	true
}

excepted(ref) {
	x := input.parameters.exceptions[_]
	regex.match(x.regex, ref.full)
	now_ns >= time.parse_rfc3339_ns(x.start)
	now_ns < time.parse_rfc3339_ns(x.end)
}

explain(image, "not-in-catalog") = " (no catalog entry allows it)" {
	true
}

explain(image, reason) = sprintf(" (catalog entry %v)", [r.entry]) {
	r := first_rule(parse(image))
	reason != "not-in-catalog"
	reason != "digest-required"
	reason != "invalid-reference"
}

explain(image, "digest-required") = " (pin it: image@sha256:...)" {
	true
}

explain(image, "invalid-reference") = "" {
	true
}
"""


def rego() -> str:
    """The template's Rego with its constants filled in."""
    kinds = ", ".join(f'"{k}"' for k in sorted(WORKLOAD_KINDS) if k not in ("Pod", "CronJob"))
    fields = ", ".join(f'"{f}"' for f in CONTAINER_FIELDS)
    text = REGO.replace("__TEMPLATE_KINDS__", kinds).replace("__FIELDS__", "[" + fields + "]")
    return text.replace("__HAS_DIGEST__", HAS_DIGEST_RE).replace("__VALID__", VALID_PINNED_RE)


def parameters(compiled: CompiledCatalog) -> dict[str, Any]:
    """The Constraint's parameters: the catalog as data."""
    rules = []
    for r in compiled.rules:
        rule: dict[str, Any] = {
            "id": r.id,
            "entry": r.entry,
            "repository": r.repository,
            "kind": r.kind,
            "values": list(r.values),
            "tagRegex": "" if r.kind == "digest" else r.tag_regex,
            "reason": r.reason,
            "eolEnd": rfc3339(r.eol_end) if r.eol_end else "",
        }
        rules.append(rule)
    exceptions = [
        {
            "id": x.id,
            "pattern": x.pattern,
            "regex": x.regex(),
            "start": rfc3339(x.start),
            "end": rfc3339(x.end),
        }
        for x in compiled.exceptions
    ]
    return {"rules": rules, "exceptions": exceptions}


def _schema() -> dict[str, Any]:
    s = {"type": "string"}
    rule = {
        "type": "object",
        "properties": {
            "id": s,
            "entry": s,
            "repository": s,
            "kind": {"type": "string", "enum": ["digest", "tag", "glob"]},
            "values": {"type": "array", "items": s},
            "tagRegex": s,
            "reason": s,
            "eolEnd": s,
        },
    }
    exception = {
        "type": "object",
        "properties": {"id": s, "pattern": s, "regex": s, "start": s, "end": s},
    }
    return {
        "type": "object",
        "properties": {
            "rules": {"type": "array", "items": rule},
            "exceptions": {"type": "array", "items": exception},
        },
    }


def _match(options: PolicyOptions) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for kind, (group, _, _) in WORKLOAD_KINDS.items():
        groups.setdefault(group, []).append(kind)
    match: dict[str, Any] = {
        "kinds": [{"apiGroups": [g], "kinds": sorted(k)} for g, k in sorted(groups.items())],
        "scope": "Namespaced",
    }
    if options.exempt_namespaces:
        match["excludedNamespaces"] = sorted(options.exempt_namespaces)
    if options.opt_in_label:
        key, value = options.opt_in_label
        match["namespaceSelector"] = {"matchLabels": {key: value}}
    return match


class GatekeeperGenerator(PolicyGenerator):
    name = "gatekeeper"
    description = "OPA Gatekeeper ConstraintTemplate (Rego) and Constraint"

    def generate(self, compiled: CompiledCatalog, options: PolicyOptions) -> Generated:
        template = {
            "apiVersion": "templates.gatekeeper.sh/v1",
            "kind": "ConstraintTemplate",
            "metadata": {
                "name": TEMPLATE_NAME,
                "labels": labels(),
                "annotations": {
                    "metadata.gatekeeper.sh/title": "baseguard catalog images",
                    "description": (
                        "Only images the baseguard catalog allows, pinned by digest; "
                        "retired and past-EOL images refused; exceptions until they expire."
                    ),
                },
            },
            "spec": {
                "crd": {
                    "spec": {
                        "names": {"kind": KIND},
                        "validation": {"openAPIV3Schema": _schema()},
                    }
                },
                "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": rego()}],
            },
        }
        constraint = {
            "apiVersion": "constraints.gatekeeper.sh/v1beta1",
            "kind": KIND,
            "metadata": {"name": options.name, "labels": labels()},
            "spec": {
                "enforcementAction": "deny" if options.enforce else "warn",
                "match": _match(options),
                "parameters": parameters(compiled),
            },
        }
        return Generated([Resource(template), Resource(constraint)])


__all__ = [
    "DIGEST_RE",
    "KIND",
    "PATH_COMPONENT_RE",
    "TAG_RE",
    "GatekeeperGenerator",
    "parameters",
    "rego",
]
