"""/healthz, /readyz, /metrics and the OpenAPI document."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import httpx

from app.main import create_app
from app.migrate import head_revision
from app.package_data import MIGRATIONS
from app.settings import Settings
from tests.conftest import create_database, database_url_for, drop_database, server_url


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_reports_the_migration(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    head = head_revision()  # the newest file in app/migrations/versions
    assert response.status_code == 200 and response.json() == {"status": "ok", "revision": head}


# Reads of the migration scripts (files opened, folders listed), while a test watches for them.
# Audit hooks cannot be removed, so there is one for the whole run, idle unless `watching` holds
# a list.
migration_reads: dict[str, list[str] | None] = {"watching": None}


def _record_migration_reads(event: str, args: tuple[Any, ...]) -> None:
    seen = migration_reads["watching"]
    if seen is None or event not in ("open", "os.listdir", "os.scandir") or not args:
        return
    if str(args[0]).startswith(str(MIGRATIONS)):
        seen.append(f"{event} {args[0]}")


sys.addaudithook(_record_migration_reads)


async def test_readyz_reads_the_migration_scripts_at_start_up_not_per_probe(
    settings: Settings,
) -> None:
    head_revision.cache_clear()  # as in a fresh process
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            seen: list[str] = []
            migration_reads["watching"] = seen
            try:
                statuses = [(await client.get("/readyz")).status_code for _ in range(3)]
            finally:
                migration_reads["watching"] = None
    assert statuses == [200, 200, 200]
    assert seen == []
    # The watch does see the scripts being read, when they are.
    head_revision.cache_clear()
    migration_reads["watching"] = seen
    try:
        head_revision()
    finally:
        migration_reads["watching"] = None
    assert seen, "the audit hook saw no read of the scripts: the test above proves nothing"


async def test_readyz_is_503_on_a_database_that_is_not_migrated() -> None:
    server, name = server_url(), f"nearby_unmigrated_{uuid.uuid4().hex[:8]}"
    await create_database(server, name)
    try:
        app = create_app(Settings(database_url=database_url_for(server, name)))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert "migration None" in response.json()["detail"]
    finally:
        await drop_database(server, name)


async def test_metrics_count_requests_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/v1/search/nearby", params={"lat": 31.2, "lng": 121.4})
    await client.get("/v1/search/nearby", params={"lat": 95, "lng": 121.4})
    await client.get(f"/v1/merchants/{uuid.uuid4()}")
    await client.get("/no/such/path")
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/v1/search/nearby",status="200"} 1.0' in text
    assert 'http_requests_total{method="GET",route="/v1/search/nearby",status="422"} 1.0' in text
    assert (
        'http_requests_total{method="GET",route="/v1/merchants/{merchant_id}",status="404"} 1.0'
        in text
    )
    assert 'http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert (
        'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/search/nearby",status="200"}'
        in text
    )


async def test_every_contract_route_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in [
        "/v1/owners",
        "/v1/merchants",
        "/v1/merchants/{merchant_id}",
        "/v1/search/nearby",
        "/v1/search/bbox",
        "/v1/search/clusters",
        "/healthz",
        "/readyz",
        "/metrics",
    ]:
        assert path in paths, path
    nearby = {p["name"] for p in paths["/v1/search/nearby"]["get"]["parameters"]}
    assert {
        "lat",
        "lng",
        "radius",
        "category",
        "q",
        "open_now",
        "limit",
        "cursor",
        "coord",
    } <= nearby
    assert paths["/v1/search/nearby"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
