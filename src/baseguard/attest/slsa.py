"""SLSA provenance (v0.1, v0.2 and v1): who built the image, how, and from which source.

What is read, per version:

=============  ===========================  ===============================================
field          v0.1 / v0.2                  v1
=============  ===========================  ===============================================
builder id     ``builder.id``               ``runDetails.builder.id``
build type     ``buildType`` (v0.1:         ``buildDefinition.buildType``
               ``recipe.type``)
source repo    ``invocation.configSource``  ``externalParameters.workflow.repository`` (or
               ``.uri``, else the first      ``.source``), else the first
               material                      ``resolvedDependencies`` entry
=============  ===========================  ===============================================

The *claimed* build level comes from the builder, not the document: SLSA provenance has no
level field. A builder id that names its level (``…_slsa3.yml``, as slsa-github-generator's
do) claims it; Google Cloud Build's hosted workers claim 3; GitHub's own artifact
attestations on GitHub-hosted runners claim 2; any other signed provenance claims 1. A claim
is worth what the signature behind it is: require an allowed builder as well.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from baseguard.attest.errors import (
    BUILDER_NOT_ALLOWED,
    LEVEL_TOO_LOW,
    MALFORMED,
    SOURCE_MISMATCH,
    VerificationFailure,
)
from baseguard.attest.intoto import SLSA_PROVENANCE_PREFIX, Statement

V01 = "https://slsa.dev/provenance/v0.1"
V1 = "https://slsa.dev/provenance/v1"

_LEVEL_IN_ID = re.compile(r"(?:^|[^a-z0-9])slsa[-_]?(?:level)?[-_]?([1-4])(?![0-9])", re.IGNORECASE)
GITHUB_WORKFLOW_BUILD_TYPE = "https://actions.github.io/buildtypes/workflow/v1"
GCB_BUILDER_PREFIX = "https://cloudbuild.googleapis.com/GoogleHostedWorker"


@dataclass(frozen=True)
class Provenance:
    """The facts of a provenance predicate that policies check."""

    version: str
    builder_id: str
    build_type: str
    source_repo: str | None
    source_ref: str | None
    source_digest: dict[str, str]
    claimed_level: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize_repo(uri: str) -> str:
    """``git+https://GitHub.com/o/r.git@refs/x`` → ``https://github.com/o/r`` (for comparing)."""
    text = uri.strip()
    if text.startswith("git+"):
        text = text[4:]
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "https", text
    host, _, path = rest.partition("/")
    path = path.split("@", 1)[0].split("#", 1)[0].split("?", 1)[0]
    path = re.sub(r"/(?:commit|tree)/[0-9a-fA-F]{7,64}$", "", path)
    path = path.rstrip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return f"{scheme.lower()}://{host.lower()}/{path}".rstrip("/")


def _split_uri(uri: str) -> tuple[str, str | None, dict[str, str]]:
    """Repository, ref and commit digest from a source URI (``git+…@ref`` or ``…/commit/sha``)."""
    ref: str | None = None
    digest: dict[str, str] = {}
    body = uri[4:] if uri.startswith("git+") else uri
    scheme, sep, rest = body.partition("://")
    if "@" in rest:
        rest, _, ref = rest.partition("@")
    commit = re.search(r"/commit/([0-9a-fA-F]{40})$", rest)
    if commit:
        digest["sha1"] = commit.group(1).lower()
    return normalize_repo(f"{scheme}{sep}{rest}" if sep else rest), ref or None, digest


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _digest(value: Any) -> dict[str, str]:
    return {k: v for k, v in _dict(value).items() if isinstance(k, str) and isinstance(v, str)}


def claimed_level(builder_id: str, build_type: str, predicate: dict[str, Any]) -> int:
    """The SLSA build level a builder claims (see the module docstring)."""
    match = _LEVEL_IN_ID.search(builder_id.rsplit("/", 1)[-1]) or _LEVEL_IN_ID.search(builder_id)
    if match:
        return int(match.group(1))
    if builder_id.startswith(GCB_BUILDER_PREFIX):
        return 3
    if build_type == GITHUB_WORKFLOW_BUILD_TYPE:
        internal = _dict(_dict(predicate.get("buildDefinition")).get("internalParameters"))
        if _str(_dict(internal.get("github")).get("runner_environment")) == "github-hosted":
            return 2
    return 1


def parse_provenance(statement: Statement, source: str) -> Provenance:
    """Read builder, build type and source from a provenance statement (``malformed`` if absent)."""
    ptype = statement.predicate_type
    if not ptype.startswith(SLSA_PROVENANCE_PREFIX):
        raise VerificationFailure(MALFORMED, f"{source}: {ptype} is not SLSA provenance")
    pred = statement.predicate
    if not isinstance(pred, dict):
        raise VerificationFailure(MALFORMED, f"{source}: the provenance predicate is not an object")
    repo: str | None = None
    ref: str | None = None
    digest: dict[str, str] = {}
    if ptype.startswith(V1):
        version = "v1"
        definition = _dict(pred.get("buildDefinition"))
        builder_id = _str(_dict(_dict(pred.get("runDetails")).get("builder")).get("id"))
        build_type = _str(definition.get("buildType"))
        external = _dict(definition.get("externalParameters"))
        workflow = _dict(external.get("workflow"))
        if _str(workflow.get("repository")):
            repo = normalize_repo(_str(workflow["repository"]))
            ref = _str(workflow.get("ref")) or None
        elif _str(external.get("source")) or _str(_dict(external.get("source")).get("uri")):
            src = external.get("source")
            repo, ref, digest = _split_uri(_str(src) or _str(_dict(src).get("uri")))
        deps = definition.get("resolvedDependencies")
        if isinstance(deps, list) and deps and isinstance(deps[0], dict):
            first = deps[0]
            if _str(first.get("uri")):
                dep_repo, dep_ref, dep_digest = _split_uri(_str(first["uri"]))
                if repo is None or dep_repo == repo:
                    repo, ref = dep_repo, ref or dep_ref
                    digest = _digest(first.get("digest")) or dep_digest or digest
    else:
        version = "v0.1" if ptype.startswith(V01) else "v0.2"
        builder_id = _str(_dict(pred.get("builder")).get("id"))
        build_type = _str(pred.get("buildType")) or _str(_dict(pred.get("recipe")).get("type"))
        config = _dict(_dict(pred.get("invocation")).get("configSource"))
        if _str(config.get("uri")):
            repo, ref, digest = _split_uri(_str(config["uri"]))
            digest = _digest(config.get("digest")) or digest
        else:
            materials = pred.get("materials")
            material = materials[0] if isinstance(materials, list) and materials else None
            if isinstance(material, dict) and _str(material.get("uri")):
                repo, ref, digest = _split_uri(_str(material["uri"]))
                digest = _digest(material.get("digest")) or digest
    if not builder_id:
        raise VerificationFailure(MALFORMED, f"{source}: the provenance names no builder id")
    return Provenance(
        version=version,
        builder_id=builder_id,
        build_type=build_type,
        source_repo=repo,
        source_ref=ref,
        source_digest=digest,
        claimed_level=claimed_level(builder_id, build_type, pred),
    )


def builder_allowed(builder_id: str, allowed: Sequence[str]) -> bool:
    """Exact match, or a prefix match for an allowed id ending in ``@`` or ``/`` (any version).

    ``https://github.com/slsa-framework/slsa-github-generator/.github/workflows/x.yml@``
    admits every tag of that workflow; nothing else is a prefix, so ``…/org`` never admits
    ``…/org-evil``.
    """
    for item in allowed:
        if builder_id == item or (item.endswith(("@", "/")) and builder_id.startswith(item)):
            return True
    return False


def check_provenance(
    prov: Provenance,
    *,
    allowed_builders: Sequence[str] = (),
    source_repo: str | None = None,
    min_level: int | None = None,
    source: str = "provenance",
) -> None:
    """Raise the first policy failure: builder not allowed, wrong source, level too low."""
    if allowed_builders and not builder_allowed(prov.builder_id, allowed_builders):
        raise VerificationFailure(
            BUILDER_NOT_ALLOWED,
            f"{source}: built by {prov.builder_id}, which is not an allowed builder "
            f"({', '.join(allowed_builders)})",
        )
    if source_repo is not None:
        wanted = normalize_repo(source_repo)
        if prov.source_repo != wanted:
            raise VerificationFailure(
                SOURCE_MISMATCH,
                f"{source}: built from {prov.source_repo or 'an unnamed source'}, not {wanted}",
            )
    if min_level is not None and prov.claimed_level < min_level:
        raise VerificationFailure(
            LEVEL_TOO_LOW,
            f"{source}: builder {prov.builder_id} claims SLSA build level "
            f"{prov.claimed_level}, below the required {min_level}",
        )
