"""``GET /metrics``: the Prometheus text exposition of the store (coverage, findings, SLA, age).

Unauthenticated like most exporters: it carries counts only, no image names. Put it behind
the ingress or a NetworkPolicy if even counts are sensitive.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    from baseguard.monitor.metrics import CONTENT_TYPE, metrics_text

    store = getattr(request.app.state.baseguard, "store", None)
    if store is None:
        return PlainTextResponse("# no store configured\n", status_code=503)
    return Response(metrics_text(store), media_type=CONTENT_TYPE)
