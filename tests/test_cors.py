"""CORS per NEARBY_CORS_ORIGINS: browsers of a mini program's web view or an H5 page on the
origins named may call the API (preflight included), with the headers the API takes and the
ones it answers with readable; other origins get no CORS answer, and with the setting unset no
origin does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from pydantic import ValidationError

from app.main import create_app
from app.settings import Settings

SHOP = "https://shop.example.com"
EXPOSED = {"retry-after", "x-request-id", "idempotent-replayed"}

Client = Callable[[str | None], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def client_with(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Client:
    """A client of the real app (its lifespan, its database) with NEARBY_CORS_ORIGINS set in
    its environment as an operator would (None: unset)."""

    @asynccontextmanager
    async def client(origins: str | None) -> AsyncIterator[httpx.AsyncClient]:
        if origins is None:
            monkeypatch.delenv("NEARBY_CORS_ORIGINS", raising=False)
        else:
            monkeypatch.setenv("NEARBY_CORS_ORIGINS", origins)
        app = create_app(Settings(database_url=settings.database_url))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                yield c

    return client


def _preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }


async def test_a_named_origin_may_claim_with_its_key_and_read_the_answer(
    client_with: Client,
) -> None:
    async with client_with(f"{SHOP}, http://localhost:5173") as client:
        path = "/v1/offers/00000000-0000-0000-0000-000000000000/claims"
        preflight = await client.options(path, headers=_preflight(SHOP))
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == SHOP
        assert "POST" in preflight.headers["access-control-allow-methods"]
        allowed = {
            h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")
        }
        assert {"authorization", "content-type", "idempotency-key"} <= allowed
        assert "access-control-allow-credentials" not in preflight.headers

        # The actual request: refused for want of a key, and the browser may read why.
        answer = await client.post(path, headers={"Origin": SHOP}, json={"lat": 60, "lng": 24})
        assert answer.status_code == 401
        assert answer.headers["access-control-allow-origin"] == SHOP
        exposed = {
            h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")
        }
        assert exposed >= EXPOSED
        assert "Origin" in answer.headers["vary"]

        other = await client.get("/healthz", headers={"Origin": "http://localhost:5173"})
        assert other.headers["access-control-allow-origin"] == "http://localhost:5173"


async def test_other_origins_get_no_cors_answer(client_with: Client) -> None:
    async with client_with(SHOP) as client:
        preflight = await client.options(
            "/v1/merchants", headers=_preflight("https://evil.example")
        )
        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in preflight.headers
        answer = await client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert answer.status_code == 200
        assert "access-control-allow-origin" not in answer.headers


async def test_unset_means_no_origin_at_all(client_with: Client) -> None:
    async with client_with(None) as client:
        preflight = await client.options("/v1/merchants", headers=_preflight(SHOP))
        assert "access-control-allow-origin" not in preflight.headers
        assert preflight.status_code == 405
        answer = await client.get("/healthz", headers={"Origin": SHOP})
        assert "access-control-allow-origin" not in answer.headers


async def test_star_lets_any_origin_call_without_credentials_of_the_browser(
    client_with: Client,
) -> None:
    async with client_with("*") as client:
        preflight = await client.options("/v1/merchants", headers=_preflight("https://any.example"))
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in preflight.headers
        answer = await client.get(
            "/v1/search/nearby", params={"lat": 60.17, "lng": 24.94}, headers={"Origin": SHOP}
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "origins",
    ["https://shop.example.com/", "shop.example.com", "https://a.example, *", "ftp://a.example"],
)
def test_what_is_not_an_origin_is_refused_at_start(
    origins: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEARBY_CORS_ORIGINS", origins)
    with pytest.raises(ValidationError, match="NEARBY_CORS_ORIGINS"):
        Settings(database_url="postgresql://x/y")
