"""The dashboard under ``/dashboard``: server-rendered pages a security lead reads.

Pages: the estate overview (catalog coverage, CVEs by severity over time as an inline SVG
chart, the images with most CVEs), the catalog with lifecycle and patch-SLA status, one page
per image (facts, packages, findings, attestations, verdict and recommendation), exceptions
expiring soon, and the compliance report. Everything is computed from the store on each
request; nothing is fetched from outside (no CDN: the CSS and the few lines of JS are ours).

Reading needs a login (a token of any role, kept in an HttpOnly, SameSite=Strict cookie),
unless the service runs with ``--dashboard-public`` (``$BASEGUARD_DASHBOARD_PUBLIC=1``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from baseguard.humanize import format_days
from baseguard.server.api import DIGEST_PATTERN, compliance_module, store_of, today_of
from baseguard.server.auth import COOKIE, LoginRequired, dashboard_viewer, lookup
from baseguard.server.problems import Problem
from baseguard.store.store import ScanInfo, Store
from baseguard.store.tokens import TokenInfo

HERE = FilePath(__file__).resolve().parent
SEVERITIES = ("critical", "high", "medium", "low")
COLORS = {"critical": "#b3261e", "high": "#e8710a", "medium": "#c9a400", "low": "#5f8fbf"}
#: Exceptions expiring within this many days are listed as expiring soon.
SOON_DAYS = 30
#: EOL within this many days is flagged on the catalog page.
EOL_WARN_DAYS = 90
TOP_IMAGES = 10
#: Largest body of the login form (a token is about 50 characters).
LOGIN_MAX_BYTES = 4096

router = APIRouter(prefix="/dashboard", include_in_schema=False)
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["days"] = format_days
Reader = Annotated[TokenInfo | None, Depends(dashboard_viewer)]


def render(request: Request, name: str, reader: TokenInfo | None, **context: Any) -> HTMLResponse:
    page = templates.get_template(name).render(
        reader=reader, path=request.url.path, now=datetime.now(UTC), **context
    )
    return HTMLResponse(page)


# -- what the pages show ---------------------------------------------------------------------


def catalog_of(store: Store) -> tuple[Any, list[str]]:
    """The store's catalog (entries that do not parse are named, not fatal)."""
    from baseguard.catalog.model import Catalog, CatalogEntry, CatalogException, parse_stored

    entries, bad_entries = parse_stored(store.catalog_entries(), CatalogEntry.from_dict)
    exceptions, bad_exceptions = parse_stored(store.exceptions(), CatalogException.from_dict)
    broken = [f"catalog entry {item}: {message}" for item, message in bad_entries]
    broken += [f"exception {item}: {message}" for item, message in bad_exceptions]
    return Catalog(entries=tuple(entries), exceptions=tuple(exceptions)), broken


def scan_day(info: ScanInfo) -> date:
    return (info.scanned_at or info.created_at).astimezone(UTC).date()


def severity_counts(summary: dict[str, Any]) -> dict[str, int]:
    by = summary.get("bySeverity") or {}
    counts = {s: int(by.get(s, 0) or 0) for s in SEVERITIES}
    counts["other"] = sum(int(v or 0) for k, v in by.items() if k not in SEVERITIES)
    return counts


@dataclass
class Series:
    """CVEs by severity of the whole estate, one point per day a scan was stored: each image
    counts with its newest scan up to that day."""

    days: list[date] = field(default_factory=list)
    values: dict[str, list[int]] = field(default_factory=dict)


def estate_series(scans: list[ScanInfo]) -> Series:
    by_day: dict[date, list[ScanInfo]] = defaultdict(list)
    for info in sorted(scans, key=lambda s: ((s.scanned_at or s.created_at), s.id)):
        by_day[scan_day(info)].append(info)
    latest: dict[str, dict[str, int]] = {}
    series = Series(values={s: [] for s in SEVERITIES})
    for day in sorted(by_day):
        for info in by_day[day]:
            latest[info.digest] = severity_counts(info.summary)
        series.days.append(day)
        for sev in SEVERITIES:
            series.values[sev].append(sum(c[sev] for c in latest.values()))
    return series


def line_chart(series: Series, width: int = 720, height: int = 240) -> dict[str, Any]:
    """Coordinates for the SVG line chart (the template draws them)."""
    left, right, top, bottom = 48, 16, 16, 36
    n = len(series.days)
    peak = max([1, *(v for vals in series.values.values() for v in vals)])
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: int) -> float:
        return top + plot_h - plot_h * v / peak

    lines = []
    for sev in SEVERITIES:
        points = [
            {"x": round(x(i), 1), "y": round(y(v), 1), "value": v, "day": series.days[i]}
            for i, v in enumerate(series.values[sev])
        ]
        lines.append(
            {
                "severity": sev,
                "color": COLORS[sev],
                "points": points,
                "path": " ".join(f"{p['x']},{p['y']}" for p in points),
            }
        )
    ticks = sorted({0, peak // 2, peak})
    return {
        "width": width,
        "height": height,
        "left": left,
        "bottom": height - bottom,
        "right": width - right,
        "lines": lines,
        "yticks": [{"y": round(y(t), 1), "value": t} for t in ticks],
        "xlabels": [
            {"x": round(x(i), 1), "label": d.strftime("%d %b")}
            for i, d in enumerate(series.days)
            if n <= 12 or i % max(1, n // 12) == 0 or i == n - 1
        ],
    }


def bar_chart(rows: list[dict[str, Any]], width: int = 720) -> dict[str, Any]:
    """Horizontal stacked bars, one per image, split by severity."""
    label_w, bar_h, gap = 280, 22, 8
    peak = max([1, *(r["total"] for r in rows)])
    plot_w = width - label_w - 110
    bars = []
    for i, row in enumerate(rows):
        y = i * (bar_h + gap)
        x = float(label_w)
        parts = []
        for sev in (*SEVERITIES, "other"):
            count = row["counts"].get(sev, 0)
            if not count:
                continue
            w = plot_w * count / peak
            parts.append(
                {
                    "x": round(x, 1),
                    "w": round(w, 1),
                    "severity": sev,
                    "count": count,
                    "color": COLORS.get(sev, "#9aa0a6"),
                }
            )
            x += w
        bars.append({**row, "y": y, "parts": parts, "end": round(x, 1)})
    return {
        "width": width,
        "height": max(1, len(rows)) * (bar_h + gap),
        "bars": bars,
        "bar_h": bar_h,
        "label_w": label_w,
    }


def judge_reference(catalog: Any, reference: str, today: date) -> Any | None:
    from baseguard.catalog.verdicts import judge
    from baseguard.errors import BaseguardError

    try:
        return judge(catalog, reference, "runtime", today)
    except BaseguardError:
        return None


def overview_data(store: Store, today: date) -> dict[str, Any]:
    catalog, broken = catalog_of(store)
    analyses = store.list_analyses()
    verdicts: dict[str, int] = defaultdict(int)
    approved = 0
    refs = {}
    for _, digest, reference in analyses:
        refs[digest] = reference
        judgement = judge_reference(catalog, reference, today)
        label = judgement.verdict.value if judgement else "unreadable reference"
        verdicts[label] += 1
        approved += label == "approved"
    scans = list(store.iter_scans())
    latest = {info.digest: info for info in scans}
    rows: list[dict[str, Any]] = [
        {
            "digest": d,
            "reference": refs.get(d, d),
            "total": info.total,
            "kev": int(info.summary.get("kev", 0) or 0),
            "counts": severity_counts(info.summary),
        }
        for d, info in latest.items()
    ]
    top = sorted(rows, key=lambda r: (-r["total"], r["reference"]))[:TOP_IMAGES]
    series = estate_series(scans)
    totals = {s: (series.values[s][-1] if series.days else 0) for s in SEVERITIES}
    soon = [x for x in catalog.exceptions if 0 <= (x.expires - today).days <= SOON_DAYS]
    return {
        "images": len(analyses),
        "approved": approved,
        "coverage": round(100 * approved / len(analyses), 1) if analyses else None,
        "verdicts": sorted(verdicts.items(), key=lambda kv: -kv[1]),
        "chart": line_chart(series) if series.days else None,
        "series": series,
        "bars": bar_chart(top) if top else None,
        "totals": totals,
        "kev": sum(int(i.summary.get("kev", 0) or 0) for i in latest.values()),
        "scanned": len(latest),
        "expiring": len(soon),
        "broken": broken,
        "audit": store.verify_audit(),
    }


def entry_rows(store: Store, today: date) -> tuple[list[dict[str, Any]], list[str]]:
    """Each catalog entry with its lifecycle, EOL and patch-SLA status."""
    from baseguard.catalog.model import format_duration

    catalog, broken = catalog_of(store)
    images: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for _, digest, reference in store.list_analyses():
        try:
            found = catalog.match(reference)
        except Exception:  # an unparsable stored reference matches nothing
            found = None
        if found is not None:
            images[found[0].id].append((digest, reference))
    rows = []
    for entry in catalog.entries:
        sla = entry.patch_sla
        open_fixable: dict[str, int] = defaultdict(int)
        for digest, _ in images[entry.id]:
            scan = store.latest_scan(digest)
            for finding in (scan or {}).get("findings", []):
                if finding.get("fixedVersions"):
                    open_fixable[str(finding.get("severity", "")).lower()] += 1
        problems = []
        if entry.eol is not None:
            left = (entry.eol - today).days
            if left < 0:
                problems.append(f"past EOL since {entry.eol}")
            elif left <= EOL_WARN_DAYS:
                problems.append(f"EOL in {format_days(left)}")
        for sev in SEVERITIES:
            if open_fixable.get(sev) and sla is not None and sla.for_severity(sev) is not None:
                problems.append(f"{open_fixable[sev]} fixable {sev} open")
        if entry.state in ("approved", "deprecated") and sla is None:
            problems.append("no patch SLA")
        rows.append(
            {
                "entry": entry,
                "owner": f"{entry.owner.team} <{entry.owner.contact}>" if entry.owner else None,
                "sla": {
                    s: format_duration(d)
                    for s in SEVERITIES
                    if sla is not None and (d := sla.for_severity(s)) is not None
                },
                "images": images[entry.id],
                "status": "attention" if problems else "ok",
                "problems": problems,
                "since": entry.lifecycle.since(),
            }
        )
    return rows, broken


def attestations_of(store: Store, digest: str) -> dict[str, Any] | None:
    """The newest stored verification result of ``digest`` (audit ``verify.result``)."""
    import json

    found = None
    for record in store.iter_audit(kinds=["verify.result"]):
        try:
            data = json.loads(record.data)
        except ValueError:
            continue
        result = data.get("result", data) if isinstance(data, dict) else None
        if isinstance(result, dict) and str(result.get("digest") or record.subject) == digest:
            found = {"time": record.time, "actor": record.actor, "result": result}
    return found


def recommendation_of(catalog: Any, analysis: Any, judgement: Any, today: date) -> dict[str, Any]:
    """What the catalog offers instead (without measuring: that needs the images)."""
    from baseguard.catalog.recommend import candidates, detect_runtime, needs_recommendation

    if judgement is None or not needs_recommendation(judgement):
        return {"needed": False, "candidates": [], "why_not": []}
    try:
        runtime = detect_runtime(analysis.image.reference, analysis)
        found, why_not = candidates(catalog, runtime, "runtime", today)
    except Exception as exc:  # a recommendation is an aid: never fail the page for it
        return {"needed": True, "candidates": [], "why_not": [f"cannot recommend: {exc}"]}
    return {
        "needed": True,
        "runtime": runtime,
        "candidates": [
            {
                "entry": c.entry.id,
                "reference": c.reference,
                "why": list(c.why),
                "caveats": list(c.caveats),
            }
            for c in found[:5]
        ],
        "why_not": why_not[:8],
    }


# -- pages -----------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def overview(request: Request, reader: Reader) -> HTMLResponse:
    data = overview_data(store_of(request), today_of(request))
    return render(request, "overview.html", reader, title="Estate overview", **data)


@router.get("/catalog", response_class=HTMLResponse)
def catalog_page(request: Request, reader: Reader) -> HTMLResponse:
    today = today_of(request)
    rows, broken = entry_rows(store_of(request), today)
    return render(
        request, "catalog.html", reader, title="Catalog", rows=rows, broken=broken, today=today
    )


@router.get("/images", response_class=HTMLResponse)
def images_page(request: Request, reader: Reader) -> HTMLResponse:
    store = store_of(request)
    latest = {s.digest: s for s in store.iter_scans()}
    rows = [
        {"digest": d, "reference": r, "scan": latest.get(d)} for _, d, r in store.list_analyses()
    ]
    return render(
        request, "images.html", reader, title="Images", rows=rows, severity_counts=severity_counts
    )


@router.get("/images/{digest}", response_class=HTMLResponse)
def image_page(
    request: Request,
    reader: Reader,
    digest: Annotated[str, Path(pattern=DIGEST_PATTERN)],
) -> HTMLResponse:
    store = store_of(request)
    analysis = store.load_analysis(digest)
    if analysis is None:
        return render(request, "missing.html", reader, title="No such image", digest=digest)
    today = today_of(request)
    catalog, _ = catalog_of(store)
    judgement = judge_reference(catalog, analysis.image.reference, today)
    scan = store.latest_scan(digest)
    return render(
        request,
        "image.html",
        reader,
        title=analysis.image.reference,
        digest=digest,
        analysis=analysis,
        facts=analysis.facts.to_dict() if analysis.facts else None,
        scan=scan,
        judgement=judgement,
        attestations=attestations_of(store, digest),
        recommendation=recommendation_of(catalog, analysis, judgement, today),
    )


@router.get("/exceptions", response_class=HTMLResponse)
def exceptions_page(request: Request, reader: Reader) -> HTMLResponse:
    today = today_of(request)
    catalog, broken = catalog_of(store_of(request))
    rows = sorted(
        ({"x": x, "days": (x.expires - today).days} for x in catalog.exceptions),
        key=lambda r: (r["days"] < 0, r["days"] if r["days"] >= 0 else -r["days"]),
    )
    return render(
        request,
        "exceptions.html",
        reader,
        title="Exceptions",
        rows=rows,
        soon=SOON_DAYS,
        broken=broken,
        today=today,
    )


@router.get("/compliance", response_class=HTMLResponse)
def compliance_page(request: Request, reader: Reader) -> HTMLResponse:
    available = compliance_module() is not None
    return render(request, "compliance.html", reader, title="Compliance", available=available)


@router.get("/compliance/report.html", response_class=HTMLResponse)
def compliance_report(request: Request, reader: Reader) -> Response:
    module = compliance_module()
    if module is None:
        return HTMLResponse("<p>The compliance report is not available.</p>", status_code=404)
    report = module.build_report(store_of(request), "all", now=datetime.now(UTC))
    return HTMLResponse(
        module.render(report, "html"),
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return render(request, "login.html", None, title="Sign in", error=None)


def refuse_cross_site(request: Request) -> None:
    """403 for a form posted from another site (login/logout CSRF), as the browser says in
    ``Sec-Fetch-Site``: a page elsewhere must not sign a reader in with its own token, nor
    out. Clients that send no such header (curl, older browsers) are not refused."""
    site = request.headers.get("sec-fetch-site", "").strip().lower()
    if site in ("cross-site", "same-site"):
        raise Problem(403, "Forbidden", "the dashboard's forms are posted from its own pages")


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(refuse_cross_site)])
async def login(request: Request) -> Response:
    from baseguard.server.webhook import read_body

    try:  # bounded: this form is open to anyone, so it must not read a body of any size
        body = await read_body(request, LOGIN_MAX_BYTES)
    except Problem as exc:
        error = "Too long." if exc.status == 413 else exc.detail
        page = render(request, "login.html", None, title="Sign in", error=error)
        page.status_code = exc.status
        return page
    form = parse_qs(body.decode("utf-8", "replace"))
    secret = (form.get("token") or [""])[0].strip()
    from starlette.concurrency import run_in_threadpool

    token = await run_in_threadpool(lookup, request, secret)
    if token is None:
        page = render(
            request, "login.html", None, title="Sign in", error="That token is unknown or revoked."
        )
        page.status_code = 401
        return page
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        COOKIE,
        secret,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/dashboard",
        max_age=12 * 3600,
    )
    return response


@router.post("/logout", dependencies=[Depends(refuse_cross_site)])
def logout() -> Response:
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


async def _login_redirect(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/dashboard/login", status_code=303)


def install(app: FastAPI) -> None:
    """Add the dashboard (and its static files) to ``app``."""
    app.add_exception_handler(LoginRequired, _login_redirect)
    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
