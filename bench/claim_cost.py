"""python -m bench.claim_cost: what the rate limits add to a claim, measured in process.

Claims go through the real app (httpx over ASGI, the app's own pool, a real PostgreSQL
connection), one at a time, each from a new user of one app, on an offer with no limits of its
own, with the rate limits on and off (the app's limits replaced by none: the claim's first
round trip then only reads the offer's summary). On and off take turns claim by claim, so a
noisy machine hurts both alike; the report is the median and p90 time per claim, without and
with an Idempotency-Key. The per-app limit is raised so that the runs stay under it: the
counters are still upserted on every claim. It uses a throwaway database of its own on the
server of DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Callable, Coroutine
from statistics import median, quantiles
from uuid import UUID

import httpx

from app.main import create_app
from app.queries.ratelimit import Hit
from app.ratelimit import Limits
from app.settings import Settings
from bench.harness import bench_database, drop_database

ADMIN = {"Authorization": "Bearer claim-cost-admin"}


class NoLimits(Limits):
    """The limits switched off: no counter is touched."""

    def claim(self, app_id: UUID, user_id: str) -> list[Hit]:
        return []


async def measure(url: str, *, claims: int) -> dict[str, list[float]]:
    settings = Settings(database_url=url, admin_key="claim-cost-admin", app_claims_per_minute=10**9)
    service = create_app(settings)
    times: dict[str, list[float]] = {}
    async with service.router.lifespan_context(service):
        transport = httpx.ASGITransport(app=service)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            offer_id, app_key = await _setup(client)
            path = f"/v1/offers/{offer_id}/claims"
            headers = {"Authorization": f"Bearer {app_key}"}
            on, off = Limits.of(settings), NoLimits()
            for n in range(claims):
                modes = ("on", "off") if n % 2 == 0 else ("off", "on")
                for keyed in (False, True):
                    for mode in modes:  # on and off in turn, claim by claim
                        service.state.limits = on if mode == "on" else off
                        name = f"{mode}, {'Idempotency-Key' if keyed else 'no key'}"
                        user = uuid.uuid4().hex
                        extra = {"Idempotency-Key": user} if keyed else {}
                        body = {"user_id": user, "lat": 31.2304, "lng": 121.4737}
                        started = time.perf_counter()
                        response = await client.post(path, json=body, headers=headers | extra)
                        times.setdefault(name, []).append(time.perf_counter() - started)
                        assert response.status_code == 201, response.text
    return times


async def _setup(client: httpx.AsyncClient) -> tuple[str, str]:
    owner = (await client.post("/v1/owners", json={"name": "cost"}, headers=ADMIN)).json()
    store = {
        "name": "cost",
        "category": "coffee",
        "location": {"lat": 31.2304, "lng": 121.4737},
        "owner_id": owner["id"],
    }
    merchant = (await client.post("/v1/merchants", json=store, headers=ADMIN)).json()
    offer = (
        await client.post(
            f"/v1/merchants/{merchant['id']}/offers",
            json={"title": "cost", "quantity": None, "per_user_limit": None},
            headers=ADMIN,
        )
    ).json()
    app = (await client.post("/v1/apps", json={"name": "cost"}, headers=ADMIN)).json()
    return str(offer["id"]), str(app["app_key"])


def run_throwaway(
    prefix: str,
    measure: Callable[..., Coroutine[None, None, dict[str, list[float]]]],
    *,
    claims: int,
) -> dict[str, list[float]]:
    """`measure(url, claims=...)` on a database of its own (named `prefix_<random>`), dropped
    afterwards."""
    server = os.environ["DATABASE_URL"]
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    url = bench_database(server, name)
    try:
        return asyncio.run(measure(url, claims=claims))
    finally:
        drop_database(server, name)


def print_times(heading: str, times: dict[str, list[float]]) -> None:
    """One row per kind of claim: how many, the median and the p90 time."""
    width = max(len(heading), *map(len, times)) + 4
    print(f"{heading:<{width}}{'claims':>8}{'median ms':>11}{'p90 ms':>9}")
    for label, spent in times.items():
        p90 = quantiles(spent, n=10)[-1]
        print(f"{label:<{width}}{len(spent):>8}{median(spent) * 1e3:>11.3f}{p90 * 1e3:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.claim_cost", description=__doc__)
    parser.add_argument("--claims", type=int, default=2000, help="per mode and kind of claim")
    args = parser.parse_args()
    times = run_throwaway("nearby_claim_cost", measure, claims=args.claims)
    print_times("limits, claim", times)
    for kind in ("no key", "Idempotency-Key"):
        on, off = median(times[f"on, {kind}"]), median(times[f"off, {kind}"])
        print(f"limits cost, {kind}: {(on - off) * 1e3:+.3f} ms a claim ({on / off - 1:+.1%})")


if __name__ == "__main__":
    main()
