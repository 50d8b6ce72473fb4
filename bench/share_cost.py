"""python -m bench.share_cost: what naming a share adds to a claim, measured in process.

Like bench.claim_cost (whose set-up it shares): claims through the real app, one at a time,
each from a new user of one app, on an offer with no limits of its own; claims that name a
share (the deepest of a chain of 3) and claims that do not take turns claim by claim, so a
noisy machine hurts both alike. The report is the median and p90 time per claim. It uses a
throwaway database of its own on the server of DATABASE_URL.
"""

from __future__ import annotations

import argparse
import time
import uuid
from statistics import median

import httpx

from app.main import create_app
from app.settings import Settings
from bench.claim_cost import _setup, print_times, run_throwaway


async def measure(url: str, *, claims: int) -> dict[str, list[float]]:
    settings = Settings(database_url=url, admin_key="claim-cost-admin", app_claims_per_minute=10**9)
    service = create_app(settings)
    times: dict[str, list[float]] = {"no share": [], "through a share": []}
    async with service.router.lifespan_context(service):
        transport = httpx.ASGITransport(app=service)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            offer_id, app_key = await _setup(client)
            path = f"/v1/offers/{offer_id}/claims"
            headers = {"Authorization": f"Bearer {app_key}"}
            share = None
            for n in range(3):
                made = await client.post(
                    f"/v1/offers/{offer_id}/shares",
                    json={"user_id": f"sharer-{n}", "parent": share},
                    headers=headers,
                )
                share = made.json()["code"]
            for n in range(claims):
                modes = ("no share", "through a share")
                for mode in modes if n % 2 == 0 else reversed(modes):
                    body = {"user_id": uuid.uuid4().hex, "lat": 31.2304, "lng": 121.4737}
                    if mode != "no share":
                        body["share"] = share
                    started = time.perf_counter()
                    response = await client.post(path, json=body, headers=headers)
                    times[mode].append(time.perf_counter() - started)
                    assert response.status_code == 201, response.text
    return times


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.share_cost", description=__doc__)
    parser.add_argument("--claims", type=int, default=2000, help="per kind of claim")
    args = parser.parse_args()
    times = run_throwaway("nearby_share_cost", measure, claims=args.claims)
    print_times("claim", times)
    shared, plain = median(times["through a share"]), median(times["no share"])
    print(f"a share costs {(shared - plain) * 1e3:+.3f} ms a claim ({shared / plain - 1:+.1%})")


if __name__ == "__main__":
    main()
