"""Admission review: judge every container image of a workload the API server is admitting.

:func:`parse_review` reads an ``admission.k8s.io/v1`` AdmissionReview as the API server sends
it and refuses anything else with :class:`MalformedReviewError` (the webhook answers 400 with
the reason). :func:`decide` finds the pod spec of a Pod or of a pod controller (Deployment,
StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate), judges
the image of every container, init container and ephemeral container with the catalog's
verdict engine, and :meth:`Decision.review` builds the AdmissionReview response: the same
``uid``, ``allowed``, a ``status.message`` naming each denied image, its rule and the catalog
replacement, and ``warnings`` for deprecated and excepted images.

The rules are those of the generated admission policies (:mod:`baseguard.policy`), checked
against the same case table (tests/policy/cases.json): every image must be pinned by digest
(``digest-required``; an exception does not waive it; ``require_digest=False`` turns this
off), must be a valid reference (``invalid-reference``), and then gets the catalog verdict of
a running container; ``approved``, ``deprecated`` and ``excepted`` are admitted.

What is allowed without judging: exempt namespaces, ``DELETE`` and ``CONNECT``, kinds that run
no containers, subresources other than ``ephemeralcontainers`` (``status`` updates from the
kubelet must never be blocked), and updates of an object already being deleted (a denial
would only keep its finalizers from being removed).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from baseguard.catalog.model import Catalog
from baseguard.catalog.verdicts import ALLOWED, Judgement, Verdict, judge
from baseguard.errors import BaseguardError, InvalidReferenceError
from baseguard.gate.advice import Replacement, replacement_for
from baseguard.humanize import json_kind
from baseguard.inventory.sources.kubernetes import CONTAINER_LISTS
from baseguard.refs import MAX_REFERENCE_CHARS, parse_reference

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
#: (API group, kind) → the keys from the object to its PodSpec.
WORKLOADS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec",),
    ("", "PodTemplate"): ("template", "spec"),
    ("", "ReplicationController"): ("spec", "template", "spec"),
    ("apps", "Deployment"): ("spec", "template", "spec"),
    ("apps", "StatefulSet"): ("spec", "template", "spec"),
    ("apps", "DaemonSet"): ("spec", "template", "spec"),
    ("apps", "ReplicaSet"): ("spec", "template", "spec"),
    ("batch", "Job"): ("spec", "template", "spec"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}
#: Subresources whose object is a pod spec to judge ("": the resource itself).
JUDGED_SUBRESOURCES = frozenset({"", "ephemeralcontainers"})
DEFAULT_EXEMPT = ("kube-system", "baseguard-system")
#: Most containers judged in one object; more is not a real workload.
MAX_CONTAINERS = 512
#: The API server may truncate longer warnings; at most this many are sent.
MAX_WARNING_CHARS = 256
MAX_WARNINGS = 16
#: Denied containers listed in the message before "and N more".
MAX_LISTED = 12
#: An image string longer than this is not a reference (none is, see
#: :data:`~baseguard.refs.MAX_REFERENCE_CHARS`): it is never memoised (a client posting many
#: distinct multi-megabyte strings must not fill the memo with them), and it is shown as its
#: first :data:`SHOWN_IMAGE_CHARS` characters and its length (:func:`shorten`). A valid
#: reference is always shown whole: its digest is what the audit record is for.
MAX_IMAGE_CHARS = MAX_REFERENCE_CHARS
SHOWN_IMAGE_CHARS = 200

#: Rule keywords of the shared case table (tests/policy/cases.json) that are not verdicts.
DIGEST_REQUIRED = "digest-required"
INVALID_REFERENCE = "invalid-reference"
#: Refusals in the order every engine reports them: the first one present is *the* reason.
REFUSAL_ORDER = (
    DIGEST_REQUIRED,
    INVALID_REFERENCE,
    Verdict.NOT_IN_CATALOG.value,
    Verdict.RETIRED.value,
    Verdict.PAST_EOL.value,
    Verdict.PROPOSED.value,
    Verdict.DEV_IN_PRODUCTION.value,
)
ALLOWED_RULES = frozenset(v.value for v in ALLOWED)
#: A reference that ends with a well-formed digest (what the policies test before parsing).
_PINNED = re.compile(r"@(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")

#: Outcomes of a decision.
JUDGED = "judged"
EXEMPT = "exempt"
NOT_JUDGED = "not-judged"
UNAVAILABLE = "catalog-unavailable"


class MalformedReviewError(BaseguardError):
    """The request is not an AdmissionReview v1 this webhook can read; ``path`` names where."""

    def __init__(self, path: str, rule: str) -> None:
        self.path = path
        self.rule = rule
        super().__init__(f"{path}: {rule}" if path else rule)


# --------------------------------------------------------------------------- the request


@dataclass(frozen=True)
class AdmissionRequest:
    """What the webhook needs of ``request``: identity, target, operation and the object."""

    uid: str
    group: str
    version: str
    kind: str
    resource: str
    sub_resource: str
    namespace: str
    name: str
    operation: str
    username: str
    dry_run: bool
    object: Mapping[str, Any] | None

    @property
    def subject(self) -> str:
        """``Deployment default/web`` (``web-*`` for a generated name)."""
        name = self.name
        if not name and self.object is not None:
            meta = self.object.get("metadata")
            if isinstance(meta, Mapping):
                name = str(meta.get("name") or "") or (
                    f"{meta.get('generateName')}*" if meta.get("generateName") else ""
                )
        where = f"{self.namespace}/{name}" if self.namespace else name
        kind = f"{self.kind}/{self.sub_resource}" if self.sub_resource else self.kind
        return f"{kind} {where or '(unnamed)'}"


def _str(data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise MalformedReviewError(f"{path}.{key}", "is required")
        return ""
    if not isinstance(value, str):
        raise MalformedReviewError(f"{path}.{key}", f"must be a string, not {json_kind(value)}")
    return value


def _map(value: Any, path: str, *, required: bool = True) -> Mapping[str, Any] | None:
    if value is None and not required:
        return None
    if not isinstance(value, Mapping):
        raise MalformedReviewError(path, f"must be an object, not {json_kind(value)}")
    return value


def parse_review(doc: Any) -> AdmissionRequest:
    """The request of an ``admission.k8s.io/v1`` AdmissionReview; MalformedReviewError if not."""
    top = _map(doc, "(body)")
    assert top is not None
    api_version = top.get("apiVersion")
    if api_version != API_VERSION:
        raise MalformedReviewError(
            "apiVersion",
            f"must be {API_VERSION}, not {api_version!r} (configure the webhook with "
            "admissionReviewVersions: [v1])",
        )
    if top.get("kind") != KIND:
        raise MalformedReviewError("kind", f"must be {KIND}, not {top.get('kind')!r}")
    req = _map(top.get("request"), "request")
    assert req is not None
    uid = _str(req, "uid", "request", required=True)
    if not uid.strip():
        raise MalformedReviewError("request.uid", "must not be empty")
    gvk = _map(req.get("kind"), "request.kind")
    assert gvk is not None
    kind = _str(gvk, "kind", "request.kind", required=True)
    operation = _str(req, "operation", "request", required=True)
    if operation not in OPERATIONS:
        raise MalformedReviewError(
            "request.operation", f"{operation!r} is not one of {', '.join(sorted(OPERATIONS))}"
        )
    resource = _map(req.get("resource"), "request.resource", required=False) or {}
    user = _map(req.get("userInfo"), "request.userInfo", required=False) or {}
    dry_run = req.get("dryRun", False)
    if dry_run is None:
        dry_run = False
    if not isinstance(dry_run, bool):
        raise MalformedReviewError("request.dryRun", f"must be a boolean, not {json_kind(dry_run)}")
    obj = _map(req.get("object"), "request.object", required=False)
    if obj is None and operation in ("CREATE", "UPDATE"):
        raise MalformedReviewError("request.object", f"is required for {operation}")
    return AdmissionRequest(
        uid=uid,
        group=_str(gvk, "group", "request.kind"),
        version=_str(gvk, "version", "request.kind"),
        kind=kind,
        resource=_str(resource, "resource", "request.resource"),
        sub_resource=_str(req, "subResource", "request"),
        namespace=_str(req, "namespace", "request"),
        name=_str(req, "name", "request"),
        operation=operation,
        username=_str(user, "username", "request.userInfo"),
        dry_run=dry_run,
        object=obj,
    )


@dataclass(frozen=True)
class Container:
    """One container of the object: where it is, its name, its image and its role."""

    path: str
    name: str
    image: str
    role: str

    @property
    def label(self) -> str:
        """``container app``, ``initContainer migrate``, ``ephemeralContainer debugger``."""
        word = {"runtime": "container", "init": "initContainer", "ephemeral": "ephemeralContainer"}
        return f"{word.get(self.role, self.role)} {self.name or self.path}"


def containers(request: AdmissionRequest) -> list[Container]:
    """Every container of the request's object (empty for a kind that runs none).

    Raises MalformedReviewError when the object does not have the shape of its kind.
    """
    path = WORKLOADS.get((request.group, request.kind))
    if path is None or request.object is None:
        return []
    spec: Any = request.object
    where = "request.object"
    for key in path:
        where += f".{key}"
        spec = _map(spec.get(key), where)
    out: list[Container] = []
    for list_key, role in CONTAINER_LISTS:
        items = spec.get(list_key)
        if items is None:
            continue
        if not isinstance(items, list):
            raise MalformedReviewError(
                f"{where}.{list_key}", f"must be a list, not {json_kind(items)}"
            )
        for i, item in enumerate(items):
            at = f"{where}.{list_key}[{i}]"
            container = _map(item, at)
            assert container is not None
            image = _str(container, "image", at)
            name = _str(container, "name", at)
            out.append(Container(f"{at}.image", name, image, role))
            if len(out) > MAX_CONTAINERS:
                raise MalformedReviewError(where, f"has more than {MAX_CONTAINERS} containers")
    return out


# --------------------------------------------------------------------------- the decision


@dataclass(frozen=True)
class ImageDecision:
    """One container's image, judged: the catalog's judgement and the rule that decided.

    ``rule`` is the case-table keyword: the catalog verdict (``approved``, ``deprecated``,
    ``excepted``, ``not-in-catalog``, ``retired``, …), or ``digest-required`` /
    ``invalid-reference`` when the image is refused before the catalog is asked.
    """

    container: Container
    reference: str
    judgement: Judgement
    replacement: Replacement | None = None
    rule: str = ""
    detail: str = ""

    @property
    def allowed(self) -> bool:
        return self.rule in ALLOWED_RULES

    def text(self) -> str:
        """``container app: image nginx:1.27: not-in-catalog: repository … not in the catalog``."""
        image, reference, detail = self.container.image, self.reference, self.detail
        j = self.judgement
        if len(image) > MAX_IMAGE_CHARS or len(reference) > MAX_IMAGE_CHARS:
            # not a reference: shown shortened, with the reason and detail that quote it
            j = replace(j, reason=_cut(j.reason))
            image, reference, detail = shorten(image), shorten(reference), _cut(detail)
        shown = image if image == reference else f"{image} ({reference})"
        why = detail if self.rule == DIGEST_REQUIRED else f"{j.label}: {j.reason}"
        text = f"{self.container.label}: image {shown}: {why}"
        if self.replacement is not None:
            text += f"; use {self.replacement.text()} instead"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "container": self.container.name,
            "role": self.container.role,
            "image": self.container.image,
            "reference": self.reference,
            "rule": self.rule,
            "verdict": self.judgement.verdict.value,
            "label": self.judgement.label,
            "allowed": self.allowed,
            "entry": self.judgement.entry,
            "exception": self.judgement.exception,
            "replacement": self.replacement.to_dict() if self.replacement else None,
        }


@dataclass(frozen=True)
class Decision:
    """The answer to one AdmissionReview, and what it rests on (for the audit log)."""

    uid: str
    allowed: bool
    message: str
    outcome: str
    warnings: tuple[str, ...] = ()
    images: tuple[ImageDecision, ...] = ()
    #: Containers with no image (templates may leave it to the pod): not judged.
    no_image: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """The one keyword the shared case table expects (see :data:`REFUSAL_ORDER`).

        Denied: the first refusal in :data:`REFUSAL_ORDER` among the images. Allowed:
        ``exempt-namespace``, ``excepted`` (an image needed an exception), ``deprecated``,
        ``approved``; or the outcome (``not-judged``, ``catalog-unavailable``).
        """
        if self.outcome == EXEMPT:
            return "exempt-namespace"
        if self.outcome != JUDGED:
            return self.outcome
        rules = {d.rule for d in self.images}
        refused = [r for r in REFUSAL_ORDER if r in rules]
        if refused:
            return refused[0]
        for rule in (Verdict.EXCEPTED.value, Verdict.DEPRECATED.value, Verdict.APPROVED.value):
            if rule in rules:
                return rule
        return "no-images"

    def review(self) -> dict[str, Any]:
        """The AdmissionReview v1 response body."""
        response: dict[str, Any] = {"uid": self.uid, "allowed": self.allowed}
        if not self.allowed:
            response["status"] = {"code": 403, "reason": "Forbidden", "message": self.message}
        elif self.message:
            response["status"] = {"code": 200, "message": self.message}
        if self.warnings:
            response["warnings"] = list(self.warnings)
        return {"apiVersion": API_VERSION, "kind": KIND, "response": response}

    def audit_data(self, request: AdmissionRequest | None) -> dict[str, Any]:
        """The decision as one audit record's data."""
        out: dict[str, Any] = {
            "uid": self.uid,
            "allowed": self.allowed,
            "outcome": self.outcome,
            "reason": self.reason,
            "message": self.message,
            "images": [d.to_dict() for d in self.images],
        }
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.no_image:
            out["containersWithoutImage"] = list(self.no_image)
        if request is not None:
            out.update(
                {
                    "operation": request.operation,
                    "kind": request.kind,
                    "group": request.group,
                    "subResource": request.sub_resource or None,
                    "namespace": request.namespace or None,
                    "name": request.name or None,
                    "user": request.username or None,
                    "dryRun": request.dry_run,
                }
            )
        return out


def shorten(text: str) -> str:
    """``text``, or its first 200 characters, ``…`` and its length when it is longer than
    :data:`MAX_IMAGE_CHARS`."""
    if len(text) <= MAX_IMAGE_CHARS:
        return text
    return f"{text[:SHOWN_IMAGE_CHARS]}… ({len(text)} characters)"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_IMAGE_CHARS else text[:SHOWN_IMAGE_CHARS] + "…"


def _fit(text: str, limit: int = MAX_WARNING_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def judge_image(
    catalog: Catalog, container: Container, today: date, *, require_digest: bool = True
) -> ImageDecision:
    """One container's image: pinned by digest (when required), valid, then the catalog."""
    try:
        ref = parse_reference(container.image)
    except InvalidReferenceError as exc:
        judgement = Judgement(Verdict.NOT_IN_CATALOG, exc.message)
        if require_digest and not _PINNED.search(container.image):
            # The policies check the digest first: an invalid tag-only reference is unpinned.
            detail = f"{DIGEST_REQUIRED}: images must be pinned by digest; also {exc.message}"
            return ImageDecision(
                container, container.image, judgement, None, DIGEST_REQUIRED, detail
            )
        return ImageDecision(container, container.image, judgement, rule=INVALID_REFERENCE)
    reference = str(ref)
    judgement = judge(catalog, reference, container.role, today)
    replacement = replacement_for(catalog, judgement)
    if require_digest and ref.digest is None:
        detail = (
            f"{DIGEST_REQUIRED}: images must be pinned by digest "
            f"({ref.name}@sha256:…); by tag alone the catalog says {judgement.label}"
        )
        if judgement.entry:
            detail += f" (entry {judgement.entry})"
        return ImageDecision(container, reference, judgement, replacement, DIGEST_REQUIRED, detail)
    return ImageDecision(container, reference, judgement, replacement, judgement.verdict.value)


class ImageJudge:
    """:func:`judge_image` against one catalog, memoised by (image, role, day, digest rule).

    A cluster runs a few hundred distinct images, and judging one (reference parsing, entry
    and exception matching) costs far more than a lookup; the webhook keeps one judge per
    loaded catalog, so a new catalog starts a new memo. At most ``size`` judgements are kept
    (the memo is emptied when full); ``size=0`` memoises nothing, and neither is an image
    string over :data:`MAX_IMAGE_CHARS`.
    """

    def __init__(self, catalog: Catalog, *, size: int = 8192) -> None:
        self.catalog = catalog
        self.size = size
        self._memo: dict[tuple[str, str, date, bool], ImageDecision] = {}
        self.hits = 0
        self.misses = 0

    def __call__(self, container: Container, today: date, require_digest: bool) -> ImageDecision:
        if self.size <= 0 or len(container.image) > MAX_IMAGE_CHARS:
            return judge_image(self.catalog, container, today, require_digest=require_digest)
        key = (container.image, container.role, today, require_digest)
        found = self._memo.get(key)
        if found is None:
            self.misses += 1
            found = judge_image(self.catalog, container, today, require_digest=require_digest)
            if len(self._memo) >= self.size:
                self._memo.clear()
            self._memo[key] = found
        else:
            self.hits += 1
        if found.container is container:
            return found
        return replace(found, container=container)

    def warm(self, other: ImageJudge, limit: int = 4096) -> int:
        """Judge, against this catalog, the images ``other`` has judged (a reload keeps the
        memo of the running cluster's images warm); returns how many were judged."""
        keys = list(other._memo)[:limit]
        for image, role, today, require_digest in keys:
            self(Container("", "", image, role), today, require_digest)
        return len(keys)


def _warning(image: ImageDecision) -> str | None:
    j = image.judgement
    if not image.allowed:
        return None
    if j.verdict is Verdict.DEPRECATED:
        return _fit(image.text())
    if j.verdict is Verdict.EXCEPTED:
        until = j.until.isoformat() if j.until else "its expiry"
        text = (
            f"{image.container.label}: image {image.container.image} is allowed only by "
            f"catalog exception {j.exception} until {until} (otherwise "
            f"{j.covers.value if j.covers else 'not allowed'})"
        )
        if image.replacement is not None:
            text += f"; move to {image.replacement.text()}"
        return _fit(text)
    return None


def decide(
    request: AdmissionRequest,
    catalog: Catalog | ImageJudge,
    *,
    today: date,
    exempt_namespaces: Collection[str] = DEFAULT_EXEMPT,
    require_digest: bool = True,
) -> Decision:
    """Judge ``request`` against ``catalog`` on ``today``.

    With ``require_digest`` (the default, as the generated policies do) an image that is not
    pinned by digest is refused whatever the catalog says; an exception does not waive it.
    """
    if request.namespace and request.namespace in exempt_namespaces:
        return Decision(
            request.uid, True, f"namespace {request.namespace} is exempt from baseguard", EXEMPT
        )
    skip = _not_judged(request)
    if skip is not None:
        return Decision(request.uid, True, skip, NOT_JUDGED)
    found = containers(request)
    judge_one = catalog if isinstance(catalog, ImageJudge) else ImageJudge(catalog, size=0)
    judged = [judge_one(c, today, require_digest) for c in found if c.image]
    no_image = tuple(c.label for c in found if not c.image)
    denied = [d for d in judged if not d.allowed]
    warnings = [w for d in judged if (w := _warning(d)) is not None]
    if len(warnings) > MAX_WARNINGS:
        rest = len(warnings) - MAX_WARNINGS + 1
        warnings = [*warnings[: MAX_WARNINGS - 1], f"… and {rest} more baseguard warnings"]
    if denied:
        lines = [d.text() for d in denied[:MAX_LISTED]]
        if len(denied) > MAX_LISTED:
            lines.append(f"… and {len(denied) - MAX_LISTED} more")
        message = f"baseguard denied {request.subject}: " + "; ".join(
            f"[{i}] {line}" if len(lines) > 1 else line for i, line in enumerate(lines, 1)
        )
        return Decision(
            request.uid, False, message, JUDGED, tuple(warnings), tuple(judged), no_image
        )
    return Decision(request.uid, True, "", JUDGED, tuple(warnings), tuple(judged), no_image)


def _not_judged(request: AdmissionRequest) -> str | None:
    """Why ``request`` is allowed without judging, or None if it must be judged."""
    if request.operation in ("DELETE", "CONNECT"):
        return f"{request.operation} is not judged"
    if (request.group, request.kind) not in WORKLOADS:
        kind = f"{request.group}/{request.kind}" if request.group else request.kind
        return f"kind {kind} runs no containers; not judged"
    if request.sub_resource not in JUDGED_SUBRESOURCES:
        return f"subresource {request.sub_resource} is not judged"
    meta = request.object.get("metadata") if request.object is not None else None
    if (
        request.operation == "UPDATE"
        and isinstance(meta, Mapping)
        and meta.get("deletionTimestamp")
    ):
        return "the object is being deleted; not judged"
    return None


def unavailable(uid: str, *, failure_mode: str, reason: str) -> Decision:
    """The answer when no catalog can be read: allowed (``open``) or denied (``closed``)."""
    if failure_mode == "open":
        warning = _fit(f"baseguard admitted this without a catalog check (fail-open): {reason}")
        return Decision(uid, True, "", UNAVAILABLE, (warning,))
    return Decision(
        uid,
        False,
        f"baseguard cannot judge images now and fails closed: {reason}",
        UNAVAILABLE,
    )
