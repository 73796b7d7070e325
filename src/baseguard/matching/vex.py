"""VEX: what a supplier or the user says about a vulnerability in a product.

Three formats are read into one model (:class:`VexDocument` of :class:`VexStatement`):

* OpenVEX 0.0.1 through 0.2.x (``vulnerability`` as a string or ``{name, @id, aliases}``,
  ``products`` as purl strings or ``{@id, identifiers{purl}, subcomponents[]}``, the 0.0.1
  statement-level ``subcomponents``), also inside an in-toto statement, a DSSE envelope or a
  Sigstore bundle (the signature is not checked here: that is ``attest``'s job);
* CSAF 2.0 VEX (``product_tree`` branches, full product names and relationships to purls,
  ``product_status`` lists, ``flags`` for justifications, ``threats`` and ``remediations``);
* CycloneDX VEX (``vulnerabilities[].analysis`` with ``affects[].ref`` resolved to the
  document's components, a purl, or a BOM-Link whose fragment is a purl).

Products are matched by purl: a versionless purl matches every version, qualifiers must
match when given, and an image-level product (``pkg:oci/…``, or a package that contains
others) with ``subcomponents`` applies to those subcomponents only. Vulnerabilities match by
id or alias. When several statements apply to one finding the latest wins (statement time,
then document time, then the order the documents were given in).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from packageurl import PackageURL

from baseguard.errors import BaseguardError
from baseguard.matching.findings import VexDecision
from baseguard.vulndb.names import normalize_pypi

NOT_AFFECTED, AFFECTED, FIXED, UNDER_INVESTIGATION = (
    "not_affected",
    "affected",
    "fixed",
    "under_investigation",
)
STATUSES = (NOT_AFFECTED, AFFECTED, FIXED, UNDER_INVESTIGATION)

#: VEX documents larger than this are refused (a Red Hat CSAF file is a few MB).
MAX_VEX_BYTES = 128 << 20
#: YAML is read only for small documents, and only up to this many nodes once expanded.
MAX_YAML_BYTES = 4 << 20
MAX_YAML_NODES = 200_000

#: CycloneDX analysis states in OpenVEX's words.
CDX_STATES = {
    "not_affected": NOT_AFFECTED,
    "false_positive": NOT_AFFECTED,
    "resolved": FIXED,
    "resolved_with_pedigree": FIXED,
    "exploitable": AFFECTED,
    "in_triage": UNDER_INVESTIGATION,
}

#: CSAF ``product_status`` lists in OpenVEX's words.
CSAF_STATUSES = {
    "known_not_affected": NOT_AFFECTED,
    "fixed": FIXED,
    "first_fixed": FIXED,
    "known_affected": AFFECTED,
    "first_affected": AFFECTED,
    "last_affected": AFFECTED,
    "under_investigation": UNDER_INVESTIGATION,
}

_RPM_ARCHES = {"x86_64", "aarch64", "noarch", "src", "i686", "i386", "ppc64le", "s390x", "ppc64"}
_NEVRA = re.compile(r"^(?P<name>.+)-(?:(?P<epoch>\d+):)?(?P<version>[^-:]+)-(?P<release>[^-]+)$")
#: purl types whose names compare case-insensitively (purl spec: lower-cased).
_CASELESS = {"apk", "deb", "rpm", "pypi", "github", "bitbucket", "oci"}


class VexError(BaseguardError):
    """A VEX document could not be read or does not follow its format."""


@dataclass(slots=True)
class VexProduct:
    """A product a statement is about; with subcomponents, it only scopes them."""

    id: str
    purl: PackageURL | None
    subcomponents: list[VexProduct] = field(default_factory=list)

    @property
    def is_image(self) -> bool:
        return self.purl is not None and self.purl.type == "oci"


@dataclass(slots=True)
class VexStatement:
    vulnerability: str
    products: list[VexProduct]
    status: str
    aliases: tuple[str, ...] = ()
    justification: str | None = None
    impact_statement: str | None = None
    action_statement: str | None = None
    status_notes: str | None = None
    timestamp: datetime | None = None
    document: str = ""

    @property
    def ids(self) -> set[str]:
        return {self.vulnerability.upper(), *(a.upper() for a in self.aliases)}

    def decision(self) -> VexDecision:
        return VexDecision(
            status=self.status,
            justification=self.justification,
            impact_statement=self.impact_statement,
            action_statement=self.action_statement,
            status_notes=self.status_notes,
            document=self.document,
            timestamp=self.timestamp,
        )


@dataclass
class VexDocument:
    source: str
    format: str
    id: str | None = None
    author: str | None = None
    timestamp: datetime | None = None
    statements: list[VexStatement] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# -- reading ---------------------------------------------------------------------------------


def load_vex(path: str | Path) -> VexDocument:
    """Read one VEX file (OpenVEX, CSAF VEX or CycloneDX VEX; JSON, or YAML for OpenVEX)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_VEX_BYTES:
            raise VexError(
                f"VEX file {p} is {size} bytes, more than the {MAX_VEX_BYTES} allowed",
                hint="split the document, or check that this is the file you meant",
            )
        raw = p.read_bytes()
    except OSError as exc:
        raise VexError(f"cannot read VEX file {p}: {exc.strerror or exc}") from exc
    return parse_vex(_decode(raw, str(p)), str(p))


def _decode(raw: bytes, source: str) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise VexError(f"VEX file {source} is not UTF-8 text ({exc.reason})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        json_error = exc
    except RecursionError:
        raise VexError(f"VEX file {source} is nested too deeply") from None
    data = _safe_yaml(text) if text.lstrip()[:1] not in ("{", "[") else None
    if isinstance(data, dict):
        return data
    raise VexError(
        f"VEX file {source} is not valid JSON: {json_error.msg} "
        f"(line {json_error.lineno}, column {json_error.colno})",
        hint="pass an OpenVEX, CSAF 2.0 VEX or CycloneDX VEX document",
    )


def _safe_yaml(text: str) -> Any:
    """YAML OpenVEX (as go-vex once wrote it): small documents only, alias bombs refused."""
    if len(text) > MAX_YAML_BYTES:
        return None
    import yaml

    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        return None
    budget, stack = MAX_YAML_NODES, [data]
    while stack:  # shared aliases count each time they are reached
        item = stack.pop()
        budget -= 1
        if budget < 0:
            return None
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return data


def parse_vex(data: Any, source: str) -> VexDocument:
    """Recognise the format of an already-decoded document and read it."""
    data = _unwrap(data, source)
    if not isinstance(data, dict):
        raise VexError(
            f"VEX file {source} is not a JSON object",
            hint="pass an OpenVEX, CSAF 2.0 VEX or CycloneDX VEX document",
        )
    try:
        if isinstance(data.get("document"), dict) and "csaf_version" in data["document"]:
            return _parse_csaf(data, source)
        if data.get("bomFormat") == "CycloneDX":
            return _parse_cyclonedx(data, source)
        context = data.get("@context")
        if (isinstance(context, str) and "openvex" in context) or "statements" in data:
            return _parse_openvex(data, source)
    except VexError:
        raise
    except RecursionError:
        raise VexError(f"VEX file {source} is nested too deeply") from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise VexError(
            f"VEX file {source} is malformed: {type(exc).__name__}: {exc}",
            hint="check the document against its format's schema",
        ) from exc
    raise VexError(
        f"{source} is not a VEX document baseguard knows",
        hint="pass OpenVEX (@context openvex.dev), CSAF 2.0 (document.csaf_version) "
        "or CycloneDX (bomFormat CycloneDX) JSON",
    )


def _unwrap(data: Any, source: str) -> Any:
    """Open a Sigstore bundle, a DSSE envelope and an in-toto statement around the VEX."""
    for _ in range(3):
        if not isinstance(data, dict):
            return data
        if isinstance(data.get("dsseEnvelope"), dict):
            data = data["dsseEnvelope"]
            continue
        if "payloadType" in data and isinstance(data.get("payload"), str):
            try:
                data = json.loads(base64.b64decode(data["payload"], validate=False))
            except (ValueError, json.JSONDecodeError) as exc:
                raise VexError(f"VEX file {source}: DSSE payload is not base64 JSON") from exc
            continue
        if "predicateType" in data and isinstance(data.get("predicate"), dict):
            data = data["predicate"]
            continue
        return data
    return data


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    # Go writes nanoseconds; Python reads at most microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _items(value: Any, source: str, what: str) -> list[Any]:
    """``value`` as a list (absent = empty); anything else is a malformed document."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise VexError(
            f"VEX file {source}: {what} is a {type(value).__name__}, not a list",
            hint="check the document against its format's schema",
        )
    return value


def _purl(text: Any) -> PackageURL | None:
    if not isinstance(text, str) or not text.startswith("pkg:"):
        return None
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None


# -- OpenVEX ---------------------------------------------------------------------------------


def _openvex_product(item: Any, doc: VexDocument) -> VexProduct | None:
    subs: list[Any] = []
    purl_text: Any
    if isinstance(item, str):
        ident, purl_text = item, item
    elif isinstance(item, dict):
        ident = str(item.get("@id") or "")
        identifiers = item.get("identifiers") or {}
        purl_text = identifiers.get("purl") if isinstance(identifiers, dict) else None
        purl_text = purl_text or ident
        subs = _items(item.get("subcomponents"), doc.source, f"subcomponents of {ident}")
    else:
        return None
    purl = _purl(purl_text)
    if purl is None:
        doc.warnings.append(
            f"{doc.source}: product {ident or purl_text!r} is not a package URL; "
            "it cannot be matched and was ignored"
        )
        return None
    sub_products = [p for p in (_openvex_product(s, doc) for s in subs) if p is not None]
    if subs and not sub_products:
        return None  # scoped to subcomponents we cannot read: never widen to the whole
    return VexProduct(ident or str(purl_text), purl, sub_products)


def _parse_openvex(data: dict[str, Any], source: str) -> VexDocument:
    doc = VexDocument(
        source=source,
        format="openvex",
        id=_str(data.get("@id")) or _str(data.get("id")),
        author=_str(data.get("author")),
        timestamp=_time(data.get("last_updated")) or _time(data.get("timestamp")),
    )
    statements = data.get("statements")
    if not isinstance(statements, list):
        raise VexError(f"OpenVEX file {source} has no statements list")
    no_product = 0
    for index, raw in enumerate(statements):
        if not isinstance(raw, dict):
            raise VexError(f"OpenVEX file {source}: statement {index} is not an object")
        vuln = raw.get("vulnerability")
        aliases: list[str] = []
        if isinstance(vuln, dict):
            name = _str(vuln.get("name")) or _str(vuln.get("@id"))
            aliases = [a for a in vuln.get("aliases") or [] if isinstance(a, str)]
        else:
            name = _str(vuln)
        if not name:
            raise VexError(f"OpenVEX file {source}: statement {index} names no vulnerability")
        status = str(raw.get("status") or "").strip().lower()
        if status not in STATUSES:
            raise VexError(
                f"OpenVEX file {source}: statement {index} ({name}) has status "
                f"{raw.get('status')!r}",
                hint=f"OpenVEX statuses are {', '.join(STATUSES)}",
            )
        legacy_subs = [
            p
            for p in (
                _openvex_product(s, doc)
                for s in _items(
                    raw.get("subcomponents"), source, f"statement {index} subcomponents"
                )
            )
            if p is not None
        ]
        products: list[VexProduct] = []
        for item in _items(raw.get("products"), source, f"statement {index} products"):
            product = _openvex_product(item, doc)
            if product is None:
                continue
            if legacy_subs and not product.subcomponents:
                product.subcomponents = list(legacy_subs)
            products.append(product)
        if not products:
            no_product += 1
            continue
        doc.statements.append(
            VexStatement(
                vulnerability=name,
                aliases=tuple(aliases),
                products=products,
                status=status,
                justification=_str(raw.get("justification")),
                impact_statement=_str(raw.get("impact_statement")),
                action_statement=_str(raw.get("action_statement")),
                status_notes=_str(raw.get("status_notes")) or _str(raw.get("statement")),
                timestamp=_time(raw.get("last_updated"))
                or _time(raw.get("timestamp"))
                or doc.timestamp,
                document=source,
            )
        )
    if no_product:
        doc.warnings.append(
            f"{source}: {no_product} statement(s) name no product baseguard can match "
            "(a package URL); they were not applied"
        )
    return doc


# -- CSAF ------------------------------------------------------------------------------------


def _rpm_purl_from_nevra(text: str) -> PackageURL | None:
    """``hivex-0:1.3.15-7.el8.aarch64`` -> ``pkg:rpm/redhat/hivex@1.3.15-7.el8?arch=aarch64``
    (Red Hat CSAF product ids that carry no purl)."""
    stem, dot, arch = text.rpartition(".")
    if not dot or arch not in _RPM_ARCHES:
        return None
    match = _NEVRA.match(stem)
    if not match:
        return None
    qualifiers = {"arch": arch}
    epoch = match.group("epoch")
    if epoch and epoch != "0":
        qualifiers["epoch"] = epoch
    return PackageURL(
        type="rpm",
        namespace="redhat",
        name=match.group("name"),
        version=f"{match.group('version')}-{match.group('release')}",
        qualifiers=qualifiers,
    )


def _csaf_products(tree: dict[str, Any], doc: VexDocument) -> dict[str, list[VexProduct]]:
    """product_id -> the products it stands for."""
    found: dict[str, list[VexProduct]] = {}

    def add(product: Any) -> None:
        if not isinstance(product, dict):
            return
        pid = _str(product.get("product_id"))
        if pid is None:
            return
        helper = product.get("product_identification_helper") or {}
        texts: list[str] = []
        if isinstance(helper, dict):
            if isinstance(helper.get("purl"), str):
                texts.append(helper["purl"])
            texts.extend(p for p in helper.get("purls") or [] if isinstance(p, str))
        purls = [p for p in (_purl(t) for t in texts) if p is not None]
        if not purls:
            nevra = _rpm_purl_from_nevra(str(product.get("name") or pid))
            if nevra is not None:
                purls = [nevra]
        found[pid] = [VexProduct(pid, p) for p in purls]

    def walk(branches: Any) -> None:
        for branch in branches or []:
            if not isinstance(branch, dict):
                continue
            add(branch.get("product"))
            walk(branch.get("branches"))

    walk(tree.get("branches"))
    for product in tree.get("full_product_names") or []:
        add(product)
    for rel in tree.get("relationships") or []:
        if not isinstance(rel, dict):
            continue
        full = rel.get("full_product_name") or {}
        pid = _str(full.get("product_id")) if isinstance(full, dict) else None
        component = found.get(str(rel.get("product_reference") or ""), [])
        if pid is None or not component:
            continue
        platform = found.get(str(rel.get("relates_to_product_reference") or ""), [])
        images = [p for p in platform if p.is_image]
        if images:  # a component of an image: scoped to that image
            found[pid] = [VexProduct(pid, img.purl, list(component)) for img in images]
        else:
            found[pid] = [VexProduct(pid, c.purl) for c in component]
    return found


def _parse_csaf(data: dict[str, Any], source: str) -> VexDocument:
    document = data["document"]
    tracking = document.get("tracking") or {}
    doc = VexDocument(
        source=source,
        format="csaf",
        id=_str(tracking.get("id")),
        author=_str((document.get("publisher") or {}).get("name")),
        timestamp=_time(tracking.get("current_release_date"))
        or _time(tracking.get("initial_release_date")),
    )
    products = _csaf_products(data.get("product_tree") or {}, doc)
    groups: dict[str, list[str]] = {}
    for group in (data.get("product_tree") or {}).get("product_groups") or []:
        if isinstance(group, dict) and _str(group.get("group_id")):
            groups[group["group_id"]] = [str(p) for p in group.get("product_ids") or []]
    unmatched: set[str] = set()
    for vindex, vuln in enumerate(_items(data.get("vulnerabilities"), source, "vulnerabilities")):
        if not isinstance(vuln, dict):
            raise VexError(f"CSAF file {source}: vulnerability {vindex} is not an object")
        ids = [str(i.get("text")) for i in vuln.get("ids") or [] if isinstance(i, dict)]
        name = _str(vuln.get("cve")) or (ids[0] if ids else None)
        if name is None:
            doc.warnings.append(f"{source}: vulnerability {vindex} has no cve or ids; ignored")
            continue
        aliases = tuple(i for i in ids if i != name)

        def per_product(entries: Any) -> dict[str, str]:
            out: dict[str, str] = {}
            for entry in entries or []:
                if not isinstance(entry, dict):
                    continue
                text = _str(entry.get("label")) or _str(entry.get("details"))
                if text is None:
                    continue
                pids = list(entry.get("product_ids") or [])
                for gid in entry.get("group_ids") or []:
                    pids.extend(groups.get(str(gid), []))
                for pid in pids:
                    out.setdefault(str(pid), text)
            return out

        flags = per_product(vuln.get("flags"))
        impacts = per_product(
            [t for t in vuln.get("threats") or [] if (t or {}).get("category") == "impact"]
        )
        actions = per_product(vuln.get("remediations"))
        status_lists = vuln.get("product_status") or {}
        for key, status in CSAF_STATUSES.items():
            for pid in _items(status_lists.get(key), source, f"{name} product_status.{key}"):
                pid = str(pid)
                matched = products.get(pid)
                if not matched:
                    unmatched.add(pid)
                    continue
                doc.statements.append(
                    VexStatement(
                        vulnerability=name,
                        aliases=aliases,
                        products=list(matched),
                        status=status,
                        justification=flags.get(pid),
                        impact_statement=impacts.get(pid),
                        action_statement=actions.get(pid),
                        timestamp=doc.timestamp,
                        document=source,
                    )
                )
    if unmatched:
        doc.warnings.append(
            f"{source}: {len(unmatched)} CSAF product(s) carry no package URL "
            "and cannot be matched (e.g. " + ", ".join(sorted(unmatched)[:3]) + ")"
        )
    return doc


# -- CycloneDX -------------------------------------------------------------------------------


def _parse_cyclonedx(data: dict[str, Any], source: str) -> VexDocument:
    metadata = data.get("metadata") or {}
    doc = VexDocument(
        source=source,
        format="cyclonedx",
        id=_str(data.get("serialNumber")),
        timestamp=_time(metadata.get("timestamp")),
    )
    refs: dict[str, VexProduct] = {}

    def index(component: Any) -> None:
        if not isinstance(component, dict):
            return
        purl = _purl(component.get("purl"))
        ref = _str(component.get("bom-ref"))
        if ref and purl is not None:
            refs[ref] = VexProduct(ref, purl)
        for child in component.get("components") or []:
            index(child)

    index(metadata.get("component"))
    for component in data.get("components") or []:
        index(component)

    no_analysis = 0
    for vindex, vuln in enumerate(_items(data.get("vulnerabilities"), source, "vulnerabilities")):
        if not isinstance(vuln, dict):
            raise VexError(f"CycloneDX file {source}: vulnerability {vindex} is not an object")
        name = _str(vuln.get("id"))
        analysis = vuln.get("analysis")
        if name is None:
            raise VexError(f"CycloneDX file {source}: vulnerability {vindex} has no id")
        if not isinstance(analysis, dict) or not analysis.get("state"):
            no_analysis += 1
            continue
        state = str(analysis["state"])
        if state not in CDX_STATES:
            raise VexError(
                f"CycloneDX file {source}: {name} has analysis state {state!r}",
                hint=f"CycloneDX states are {', '.join(CDX_STATES)}",
            )
        aliases = tuple(
            str(r["id"])
            for r in vuln.get("references") or []
            if isinstance(r, dict) and r.get("id")
        )
        responses = [str(r) for r in analysis.get("response") or []]
        when = _time(analysis.get("lastUpdated")) or _time(analysis.get("firstIssued"))
        by_status: dict[str, list[VexProduct]] = {}
        for affect in _items(vuln.get("affects"), source, f"{name} affects"):
            if not isinstance(affect, dict):
                continue
            product = _cdx_ref(str(affect.get("ref") or ""), refs)
            if product is None:
                doc.warnings.append(
                    f"{source}: {name} affects {affect.get('ref')!r}, which is neither a "
                    "component with a package URL in this document nor a package URL; ignored"
                )
                continue
            versions = _items(affect.get("versions"), source, f"{name} affects versions")
            if not versions:
                by_status.setdefault(CDX_STATES[state], []).append(product)
                continue
            for entry in versions:
                if not isinstance(entry, dict) or not _str(entry.get("version")):
                    doc.warnings.append(
                        f"{source}: {name}: version ranges in affects are not applied"
                    )
                    continue
                vstatus = {"unaffected": NOT_AFFECTED, "affected": CDX_STATES[state]}.get(
                    str(entry.get("status") or "affected")
                )
                if vstatus is None or product.purl is None:
                    continue
                pinned = product.purl._replace(version=str(entry["version"]))
                by_status.setdefault(vstatus, []).append(VexProduct(product.id, pinned))
        for status, products in by_status.items():
            doc.statements.append(
                VexStatement(
                    vulnerability=name,
                    aliases=aliases,
                    products=products,
                    status=status,
                    justification=_str(analysis.get("justification")),
                    impact_statement=_str(analysis.get("detail")),
                    action_statement=", ".join(responses) or None,
                    timestamp=when or doc.timestamp,
                    document=source,
                )
            )
    if no_analysis:
        doc.warnings.append(
            f"{source}: {no_analysis} vulnerabilit{'y has' if no_analysis == 1 else 'ies have'} "
            "no analysis state (not VEX statements); ignored"
        )
    return doc


def _cdx_ref(ref: str, refs: dict[str, VexProduct]) -> VexProduct | None:
    if ref in refs:
        return refs[ref]
    if ref.startswith("urn:cdx:") and "#" in ref:
        fragment = unquote(ref.split("#", 1)[1])
        if fragment in refs:
            return refs[fragment]
        ref = fragment
    purl = _purl(ref)
    return VexProduct(ref, purl) if purl is not None else None


# -- matching --------------------------------------------------------------------------------


def _norm_name(purl: PackageURL) -> str:
    if purl.type == "pypi":
        return normalize_pypi(purl.name)
    return purl.name.lower() if purl.type in _CASELESS else purl.name


def _norm_version(purl: PackageURL) -> str:
    version = purl.version or ""
    if purl.type == "golang" and version.startswith("v"):
        return version[1:]
    if purl.type == "oci":
        return unquote(version).lower()
    return version


def purl_matches(pattern: PackageURL, candidate: PackageURL) -> bool:
    """Does the VEX product ``pattern`` name the package ``candidate``?

    Type, namespace and name must be equal; a versionless pattern matches every version;
    each qualifier the pattern gives must be present with the same value; a subpath given
    must be equal.
    """
    if pattern.type.lower() != candidate.type.lower():
        return False
    pns, cns = pattern.namespace or "", candidate.namespace or ""
    if pattern.type in _CASELESS:
        pns, cns = pns.lower(), cns.lower()
    if pns != cns or _norm_name(pattern) != _norm_name(candidate):
        return False
    if pattern.version and _norm_version(pattern) != _norm_version(candidate):
        return False
    wanted = _qualifiers(pattern)
    if wanted:
        have = _qualifiers(candidate)
        if any(have.get(k) != v for k, v in wanted.items()):
            return False
    return not (pattern.subpath and (pattern.subpath or "") != (candidate.subpath or ""))


def _qualifiers(purl: PackageURL) -> dict[str, str]:
    q = purl.qualifiers
    if isinstance(q, dict):
        return {str(k): str(v) for k, v in q.items()}
    if isinstance(q, str) and q:
        return dict(part.split("=", 1) for part in q.split("&") if "=" in part)
    return {}


@dataclass
class ImageContext:
    """What an image-level VEX product (``pkg:oci/…``) is compared with."""

    digests: set[str] = field(default_factory=set)
    repository: str | None = None

    def matches(self, purl: PackageURL) -> bool:
        if purl.type != "oci":
            return False
        if purl.version:
            return unquote(purl.version).lower() in self.digests
        # A versionless image purl names a repository: it must say which one.
        if not self.repository:
            return False
        repo = self.repository.lower()
        url = _qualifiers(purl).get("repository_url")
        if url:
            return repo == unquote(url).lower().rstrip("/")
        return repo.rsplit("/", 1)[-1] == purl.name.lower()


class VexIndex:
    """The statements of several documents, ready to decide findings.

    ``packages`` are the purls of every package in the analysis: a non-image product with
    subcomponents (a Go main module, an application) scopes its subcomponents only when that
    product is itself present.
    """

    def __init__(
        self,
        documents: Sequence[VexDocument],
        image: ImageContext | None = None,
        packages: Iterable[str] = (),
    ) -> None:
        self.image = image or ImageContext()
        self._by_id: dict[str, list[tuple[tuple[datetime, int, int], VexStatement]]] = {}
        self._present = [p for p in (_purl(t) for t in packages) if p is not None]
        floor = datetime.min.replace(tzinfo=UTC)
        for dindex, doc in enumerate(documents):
            for sindex, stmt in enumerate(doc.statements):
                key = (stmt.timestamp or floor, dindex, sindex)
                for ident in stmt.ids:
                    self._by_id.setdefault(ident, []).append((key, stmt))
        self._container_cache: dict[int, bool] = {}

    def _container_present(self, product: VexProduct) -> bool:
        key = id(product)
        if key not in self._container_cache:
            purl = product.purl
            present = purl is not None and (
                self.image.matches(purl)
                if purl.type == "oci"
                else any(purl_matches(purl, p) for p in self._present)
            )
            self._container_cache[key] = present
        return self._container_cache[key]

    def _applies(self, stmt: VexStatement, purl: PackageURL) -> bool:
        for product in stmt.products:
            if product.subcomponents:
                if any(
                    s.purl is not None and purl_matches(s.purl, purl) for s in product.subcomponents
                ) and self._container_present(product):
                    return True
            elif product.purl is not None:
                if product.is_image:
                    if self.image.matches(product.purl):
                        return True
                elif purl_matches(product.purl, purl):
                    return True
        return False

    def decide(self, ids: set[str], package_purl: str) -> VexStatement | None:
        """The latest statement about any of ``ids`` that applies to the package."""
        if not self._by_id:
            return None
        candidates: dict[int, tuple[tuple[datetime, int, int], VexStatement]] = {}
        for ident in ids:
            for key, stmt in self._by_id.get(ident.upper(), ()):
                candidates[id(stmt)] = (key, stmt)
        if not candidates:
            return None
        purl = _purl(package_purl)
        if purl is None:
            return None
        best: tuple[tuple[datetime, int, int], VexStatement] | None = None
        for key, stmt in candidates.values():
            if (best is None or key > best[0]) and self._applies(stmt, purl):
                best = (key, stmt)
        return best[1] if best else None
