"""sigstore policy-controller: one ClusterImagePolicy per catalog entry with a signature rule.

policy-controller matches ``spec.images[].glob`` against the image name go-containerregistry
prints (``index.docker.io/library/alpine@sha256:…``; tags are resolved to digests first):
``*`` never crosses ``/``, ``**`` does, and ``@`` may not appear in a glob. So an entry's glob
is ``<repository>*``: its tags and digests, and also a sibling repository in the same
directory whose name starts with the same text (``registry.io/org/app-evil``), which then has
to carry the entry's signatures too. That can only refuse more, never admit more: which
repositories may run at all is the other engines' job (Kyverno, Gatekeeper, VAP).

The authority is the catalog's keyless identity (Fulcio and Rekor of the public Sigstore
instance) or its public key; attestations use policy-controller's predicate type names
(``slsaprovenance`` is SLSA v0.2, ``spdxjson``, ``cyclonedx``), each with a CUE policy on
the predicate type. policy-controller has no name for SLSA v1 or OpenVEX predicates: those
requirements are left to Kyverno's ``verifyImages`` and said so in a note.

policy-controller judges only namespaces labelled ``policy.sigstore.dev/include=true``: the
opt-in label is its own, and exempt namespaces are simply not labelled.
"""

from __future__ import annotations

from typing import Any

from baseguard.policy.base import (
    DOCKER_HUB,
    FULCIO_URL,
    REKOR_URL,
    SBOM_PREDICATES,
    SLSA_PREDICATES,
    CompiledCatalog,
    Generated,
    PolicyGenerator,
    PolicyOptions,
    Resource,
    SignedEntry,
    labels,
)

#: policy-controller's predicateType names (its validation accepts only these).
PREDICATE_NAMES = {
    SLSA_PREDICATES["v0.2"]: "slsaprovenance",
    SBOM_PREDICATES["spdx"]: "spdxjson",
    SBOM_PREDICATES["cyclonedx"]: "cyclonedx",
}
VALID_PREDICATE_NAMES = (
    "custom",
    "slsaprovenance",
    "spdx",
    "spdxjson",
    "cyclonedx",
    "link",
    "vuln",
)
GGCR_DOCKER_HUB = "index.docker.io"
OPT_IN_LABEL = ("policy.sigstore.dev/include", "true")


def glob_for(repository: str) -> str:
    """``<repository>*`` with Docker Hub spelled as go-containerregistry names it."""
    registry, _, path = repository.partition("/")
    if registry == DOCKER_HUB:
        registry = GGCR_DOCKER_HUB
    return f"{registry}/{path}*"


def _authority(signed: SignedEntry, notes: list[str]) -> dict[str, Any]:
    authority: dict[str, Any] = {"name": "catalog-signature"}
    if signed.key_pem is not None:
        authority["key"] = {"data": signed.key_pem, "hashAlgorithm": "sha256"}
    else:
        authority["keyless"] = {
            "url": FULCIO_URL,
            "identities": [
                {"issuer": signed.signature.issuer, "subject": signed.signature.identity}
            ],
        }
    authority["ctlog"] = {"url": REKOR_URL}
    attestations = []
    for name, predicate in signed.attestations:
        short = PREDICATE_NAMES.get(predicate)
        if short is None:
            notes.append(
                f"entry {signed.entry}: policy-controller has no predicate type name for "
                f"{predicate} ({name}); Kyverno's verifyImages requires it"
            )
            continue
        attestations.append(
            {
                "name": name,
                "predicateType": short,
                "policy": {"type": "cue", "data": f'predicateType: "{predicate}"\n'},
            }
        )
    if attestations:
        authority["attestations"] = attestations
    return authority


class PolicyControllerGenerator(PolicyGenerator):
    name = "policy-controller"
    description = "sigstore policy-controller ClusterImagePolicies (signatures, attestations)"

    def generate(self, compiled: CompiledCatalog, options: PolicyOptions) -> Generated:
        notes: list[str] = []
        resources = []
        for signed in compiled.signed:
            policy = {
                "apiVersion": "policy.sigstore.dev/v1beta1",
                "kind": "ClusterImagePolicy",
                "metadata": {"name": f"{options.name}-{signed.entry}", "labels": labels()},
                "spec": {
                    "mode": "enforce" if options.enforce else "warn",
                    "images": [{"glob": glob_for(signed.repository)}],
                    "authorities": [_authority(signed, notes)],
                },
            }
            resources.append(Resource(policy))
        others = [
            r
            for r in compiled.repositories
            if any(
                o != r and o.startswith(r) and "/" not in o[len(r) :] for o in compiled.repositories
            )
            and any(s.repository == r for s in compiled.signed)
        ]
        for repo in others:
            notes.append(
                f"policy-controller: the glob {glob_for(repo)} also covers other catalog "
                "repositories that start with the same name; their images must carry both "
                "entries' signatures"
            )
        if options.opt_in_label and options.opt_in_label != OPT_IN_LABEL:
            notes.append(
                "policy-controller judges namespaces labelled policy.sigstore.dev/include=true "
                "(its own opt-in label); --opt-in-label does not change that"
            )
        if not resources:
            notes.append("no catalog entry has a signature requirement: no ClusterImagePolicy")
        return Generated(resources, notes)
