"""Routes for operators: liveness, readiness, metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.db import ReadConn
from app.errors import NotReady
from app.migrate import head_revision
from app.queries import operations as operations_sql
from app.routes import params
from app.routes.responses import problems
from app.schemas.operations import Health, Readiness

router = APIRouter(route_class=params.KnownQueryRoute)


@router.get("/healthz", responses=problems(422), tags=["operations"])
async def healthz() -> Health:
    """Liveness: the process answers (it does not ask the database)."""
    return Health(status="ok")


@router.get("/readyz", responses=problems(422, 503), tags=["operations"])
async def readyz(conn: ReadConn) -> Readiness:
    """Readiness: the database answers and is at this service's newest migration; else 503."""
    revision, head = await operations_sql.schema_revision(conn), head_revision()
    if revision != head:
        raise NotReady(f"The database is at migration {revision}, the service needs {head}")
    return Readiness(status="ok", revision=revision)


@router.get("/metrics", responses=problems(422), tags=["operations"], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics in the text exposition format: requests by route and status, latency."""
    body = request.app.state.metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
