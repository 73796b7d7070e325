"""The baseguard service: one FastAPI application (:func:`baseguard.server.app.create_app`).

Today it serves the admission webhook (:mod:`.webhook`) with health and readiness endpoints;
the REST API and the dashboard are added to the same application as further routers.
"""
