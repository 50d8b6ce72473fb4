"""/v1/search/*: filters, coordinate systems, viewports and clusters, through the real app."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import h3.api.basic_int as h3i
import httpx
import pytest
import shapely
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from sqlalchemy.ext.asyncio import AsyncConnection

from app.schemas.search import BBoxPage, ClusterPage, NearbyPage
from spatial import CoordSystem, circle_fence, from_wgs84, parent_masks, to_wgs84
from tests.factories import create_owner, insert_merchant, insert_offer
from tests.responses import checked_get

GEOD = Geod(ellps="WGS84")
SHANGHAI = (31.2304, 121.4737)


def offset(lat: float, lng: float, azimuth: float, metres: float) -> tuple[float, float]:
    lng2, lat2, _ = GEOD.fwd(lng, lat, azimuth, metres)
    return lat2, (lng2 + 180) % 360 - 180


async def nearby(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    return await checked_get(client, "/v1/search/nearby", NearbyPage, params)


@pytest.fixture
async def owner_id(conn: AsyncConnection) -> uuid.UUID:
    owner, _ = await create_owner(conn)
    return owner.id


# ------------------------------------------------------------------------------------- filters

NAMES = [
    "星巴克咖啡 Starbucks",
    "喜茶 HEYTEA",
    "Kahvila Äärellä",
    "50% OFF outlet",
    "Noodle_Bar",
    "Book Corner",
]
TAGS = [["wifi"], ["奶茶", "tea"], ["coffee", "ÄÄNI"], [], ["noodles"], ["books", "wifi"]]
CATEGORIES = ["coffee", "tea", "coffee", "outlet", "noodles", "books"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.floats(0, 360), st.floats(0, 1200)), max_size=25),
    st.lists(st.sampled_from(["coffee", "tea", "outlet", "noodles", "books", "none"]), max_size=3),
    st.sampled_from([None, "咖啡", "starbucks", "äär", "ääni", "WIFI", "%", "_", "tea", "茶"]),
)
@example(shops=[(0, 0.0, 1000.0)], categories=[], q=None)  # on the radius: drawn once in CI
async def test_category_and_text_filters_match_a_brute_force_filter(
    conn: AsyncConnection,
    client: httpx.AsyncClient,
    owner_id: uuid.UUID,
    shops: list[tuple[int, float, float]],
    categories: list[str],
    q: str | None,
) -> None:
    async with conn.begin_nested() as savepoint:
        expected = {}
        # Shops within 0.1 m of the radius, on either side, that pass the filters: the service's
        # geodesic and `offset`'s may round them either way, so either answer is right (one run
        # drew a shop at exactly 1,000 m, which the service kept and the oracle had left out).
        near_edge: set[str] = set()
        for kind, azimuth, distance in shops:
            lat, lng = offset(*SHANGHAI, azimuth, distance)
            row = await insert_merchant(
                conn,
                owner_id,
                lat=lat,
                lng=lng,
                name=NAMES[kind],
                tags=TAGS[kind],
                category=CATEGORIES[kind],
            )
            text = [NAMES[kind].casefold(), *(t.casefold() for t in TAGS[kind])]
            if (not categories or CATEGORIES[kind] in categories) and (
                q is None or any(q.casefold() in t for t in text)
            ):
                if distance <= 1000 - 0.01:
                    expected[str(row.id)] = distance
                if abs(distance - 1000) <= 0.1:
                    near_edge.add(str(row.id))
        params: dict[str, Any] = {
            "lat": SHANGHAI[0],
            "lng": SHANGHAI[1],
            "radius": 1000,
            "limit": 100,
        }
        if categories:
            params["category"] = categories
        if q is not None:
            params["q"] = q
        body = await nearby(client, **params)
        await savepoint.rollback()
    got = [r["id"] for r in body["results"]]
    assert set(got) - near_edge == set(expected) - near_edge
    assert [r["distance_m"] for r in body["results"]] == sorted(
        r["distance_m"] for r in body["results"]
    )


async def test_q_matches_chinese_and_ignores_case_in_any_script(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    cafe = await insert_merchant(conn, owner_id, name="星巴克咖啡(南京路店)", tags=["Wi-Fi"])
    kahvila = await insert_merchant(
        conn, owner_id, lat=SHANGHAI[0] + 0.001, name="KAHVILA ÄÄRELLÄ", tags=[]
    )
    for q, ids in [
        ("咖啡", {cafe.id}),
        ("ääreLLÄ", {kahvila.id}),
        ("wi-fi", {cafe.id}),
        ("nothing", set()),
    ]:
        body = await nearby(client, lat=SHANGHAI[0], lng=SHANGHAI[1], q=q)
        assert {uuid.UUID(r["id"]) for r in body["results"]} == ids, q


async def test_like_wildcards_in_q_are_literal(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    half = await insert_merchant(conn, owner_id, name="50% off")
    await insert_merchant(conn, owner_id, name="500 things")
    body = await nearby(client, lat=SHANGHAI[0], lng=SHANGHAI[1], q="0%")
    assert [r["id"] for r in body["results"]] == [str(half.id)]


@pytest.mark.parametrize(
    ("hours", "timezone", "at", "open_"),
    [
        ("Mo-Fr 09:00-18:00", "Asia/Shanghai", "2026-11-23T10:00:00+08:00", True),  # Monday 10:00
        ("Mo-Fr 09:00-18:00", "Asia/Shanghai", "2026-11-23T10:00:00Z", False),  # Monday 18:00
        ("Mo-Fr 09:00-18:00", "Asia/Shanghai", "2026-11-23T09:59:00Z", True),  # Monday 17:59
        ("Mo-Fr 09:00-18:00", "Asia/Shanghai", "2026-11-22T03:00:00Z", False),  # Sunday
        ("Fr 22:00-02:00", "Asia/Shanghai", "2026-11-27T17:30:00Z", True),  # Saturday 01:30
        ("Fr 22:00-02:00", "Asia/Shanghai", "2026-11-27T18:30:00Z", False),  # Saturday 02:30
        ("Su 20:00-03:00", "Asia/Shanghai", "2026-11-22T18:00:00Z", True),  # Monday 02:00
        ("24/7", "Asia/Shanghai", "2026-11-22T03:00:00Z", True),
        ("Mo-Su 09:00-17:00", "Europe/Helsinki", "2026-07-01T06:30:00Z", True),  # 09:30 EEST
        ("Mo-Su 09:00-17:00", "Europe/Helsinki", "2026-01-01T06:30:00Z", False),  # 08:30 EET
        ("Mo-Su 09:00-17:00", "America/New_York", "2026-11-22T14:30:00Z", True),  # 09:30 EST
    ],
)
async def test_open_now_is_judged_in_each_stores_own_timezone(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    owner_id: uuid.UUID,
    hours: str,
    timezone: str,
    at: str,
    open_: bool,
) -> None:
    store = await insert_merchant(conn, owner_id, opening_hours_text=hours, timezone=timezone)
    await insert_merchant(conn, owner_id, opening_hours_text=None)  # no hours: never open_now
    body = await nearby(client, lat=SHANGHAI[0], lng=SHANGHAI[1], open_now="true", at=at)
    assert [r["id"] for r in body["results"]] == ([str(store.id)] if open_ else [])


async def test_open_now_without_at_uses_the_current_time(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    store = await insert_merchant(conn, owner_id, opening_hours_text="24/7")
    body = await nearby(client, lat=SHANGHAI[0], lng=SHANGHAI[1], open_now="true")
    assert [r["id"] for r in body["results"]] == [str(store.id)]


# --------------------------------------------------------------------------- coordinate systems


@pytest.mark.parametrize("system", [CoordSystem.GCJ02, CoordSystem.BD09])
async def test_a_search_in_a_chinese_datum_answers_in_that_datum(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID, system: CoordSystem
) -> None:
    store = await insert_merchant(conn, owner_id, lat=SHANGHAI[0] + 0.002, lng=SHANGHAI[1])
    origin = from_wgs84(*SHANGHAI, system)
    wgs = await nearby(client, lat=SHANGHAI[0], lng=SHANGHAI[1])
    body = await nearby(client, lat=origin[0], lng=origin[1], coord=system.value)
    (hit,) = body["results"]
    assert hit["id"] == str(store.id) and hit["coord"] == system.value
    assert hit["distance_m"] == pytest.approx(wgs["results"][0]["distance_m"], abs=0.01)
    lat, lng = from_wgs84(store.lat, store.lng, system)
    assert hit["location"] == pytest.approx({"lat": lat, "lng": lng}, abs=1e-9)
    assert hit["h3"] == wgs["results"][0]["h3"]  # H3 cells are always of the WGS-84 position


async def test_outside_china_every_datum_is_wgs84(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    store = await insert_merchant(
        conn, owner_id, lat=60.1699, lng=24.9384, timezone="Europe/Helsinki"
    )
    for system in CoordSystem:
        body = await nearby(client, lat=60.1699, lng=24.9384, coord=system.value)
        assert (
            body["results"][0]["location"] == {"lat": store.lat, "lng": store.lng}
            or system is CoordSystem.BD09
        )


# ------------------------------------------------------------------------- the home screen


async def test_include_offers_adds_offers_here_exactly_as_offers_here_writes_them(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    """The same objects, byte for byte, whatever the radius; the first page only."""
    far_lat, far_lng = offset(*SHANGHAI, 90, 3000)  # far outside the radius searched
    far = await insert_merchant(conn, owner_id, lat=far_lat, lng=far_lng, category="tea")
    near = await insert_merchant(conn, owner_id, category="coffee")
    await insert_merchant(conn, owner_id, lat=SHANGHAI[0] + 0.0002, category="coffee")
    for n in range(23):  # more than a page of offers/here
        shop = far if n % 2 else near
        await insert_offer(conn, shop.id, fence=circle_fence(*SHANGHAI, 5000), quantity=n + 1)
    await insert_offer(conn, near.id, fence=circle_fence(*SHANGHAI, 5000), quantity=0)
    cases: list[dict[str, Any]] = [
        {"coord": "gcj02", "at": "2026-11-23T10:00:00+08:00"},
        {"category": "tea"},
        {"limit": 1},
    ]
    for params in cases:
        lat, lng = from_wgs84(*SHANGHAI, CoordSystem(params.get("coord", "wgs84")))
        point = {"lat": lat, "lng": lng}
        home = await client.get(
            "/v1/search/nearby", params=point | params | {"radius": 100, "include": "offers"}
        )
        assert home.status_code == 200, home.text
        NearbyPage.model_validate(home.json())
        alone = await client.get(
            "/v1/offers/here", params=point | {k: v for k, v in params.items() if k != "limit"}
        )
        assert alone.status_code == 200, alone.text
        results = alone.content[len(b'{"results":') : alone.content.rindex(b',"next_cursor":')]
        assert b'"offers_here":' + results + b"," in home.content
        body, offers = home.json(), alone.json()
        assert body["offers_here"] == offers["results"] and len(offers["results"]) <= 20
        assert body["offers_next_cursor"] == offers["next_cursor"]
        assert body["offers_here"], params
        assert all(r["distance_m"] <= 100 for r in body["results"]) and body["radius_m"] == 100
        if "category" in params:
            assert {o["merchant"]["id"] for o in body["offers_here"]} == {str(far.id)}
    # A page with a cursor is the list alone.
    page = await nearby(client, lat=SHANGHAI[0], lng=SHANGHAI[1], limit=1, include="offers")
    assert len(page["offers_here"]) == 20 and page["offers_next_cursor"]
    later = await nearby(
        client,
        lat=SHANGHAI[0],
        lng=SHANGHAI[1],
        limit=1,
        include="offers",
        cursor=page["next_cursor"],
    )
    assert "offers_here" not in later and len(later["results"]) == 1
    assert "offers_here" not in await nearby(client, lat=SHANGHAI[0], lng=SHANGHAI[1])


async def test_radius_auto_widens_to_the_first_step_with_limit_stores_and_pages_in_it(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    ids = {}
    for metres in (300, 1500, 1800, 4000, 30_000):
        lat, lng = offset(*SHANGHAI, 45, metres)
        ids[metres] = str((await insert_merchant(conn, owner_id, lat=lat, lng=lng)).id)
    where: dict[str, Any] = {"lat": SHANGHAI[0], "lng": SHANGHAI[1], "radius": "auto"}
    for limit, radius in [(1, 1000), (2, 2000), (3, 2000), (4, 5000), (5, 50_000), (9, 50_000)]:
        body = await nearby(client, **where, limit=limit)
        assert body["radius_m"] == radius, limit
    assert (await nearby(client, **where | {"radius": 700}))["radius_m"] == 700
    # Page 2 of an auto search stays within the radius page 1 settled on.
    first = await nearby(client, **where, limit=2)
    assert [r["id"] for r in first["results"]] == [ids[300], ids[1500]]
    second = await nearby(client, **where, limit=2, cursor=first["next_cursor"])
    assert [r["id"] for r in second["results"]] == [ids[1800]]
    assert second["radius_m"] == 2000 and second["next_cursor"] is None
    # Its cursor belongs to the auto search alone.
    fixed = await client.get(
        "/v1/search/nearby", params=where | {"radius": 2000, "cursor": first["next_cursor"]}
    )
    assert fixed.status_code == 422, fixed.text
    # And it carries a radius that must be one of the steps.
    raw = base64.urlsafe_b64decode(first["next_cursor"] + "==")
    forged = base64.urlsafe_b64encode(raw.replace(b",2000.0]", b",3000.0]")).decode()
    refused = await client.get("/v1/search/nearby", params=where | {"limit": 2, "cursor": forged})
    assert refused.status_code == 422, refused.text


# -------------------------------------------------------------------------------------- viewports


async def bbox(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    return await checked_get(client, "/v1/search/bbox", BBoxPage, params)


async def test_bbox_returns_what_is_inside_nearest_the_centre_first(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    inside = [
        await insert_merchant(conn, owner_id, lat=31.20 + i * 0.01, lng=121.45) for i in range(5)
    ]
    await insert_merchant(conn, owner_id, lat=31.30, lng=121.45)  # north of the box
    await insert_merchant(conn, owner_id, lat=31.22, lng=121.60)  # east of it
    body = await bbox(
        client, min_lat=31.195, min_lng=121.40, max_lat=31.245, max_lng=121.50, limit=3
    )
    assert [r["id"] for r in body["results"]] == [str(inside[i].id) for i in (2, 1, 3)]
    assert body["truncated"] is True
    body = await bbox(client, min_lat=31.195, min_lng=121.40, max_lat=31.245, max_lng=121.50)
    assert {r["id"] for r in body["results"]} == {str(m.id) for m in inside} and body[
        "truncated"
    ] is False


async def test_bbox_edges_are_inclusive(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    corner = await insert_merchant(conn, owner_id, lat=31.2, lng=121.4)
    body = await bbox(client, min_lat=31.2, min_lng=121.4, max_lat=31.3, max_lng=121.5)
    assert [r["id"] for r in body["results"]] == [str(corner.id)]


async def test_bbox_across_the_antimeridian(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    west = await insert_merchant(conn, owner_id, lat=-17.8, lng=179.9, timezone="Pacific/Fiji")
    east = await insert_merchant(conn, owner_id, lat=-17.8, lng=-179.9, timezone="Pacific/Fiji")
    await insert_merchant(conn, owner_id, lat=-17.8, lng=178.0, timezone="Pacific/Fiji")
    body = await bbox(client, min_lat=-18, min_lng=179.5, max_lat=-17.5, max_lng=-179.5)
    assert {r["id"] for r in body["results"]} == {str(west.id), str(east.id)}


async def test_bbox_in_gcj02_is_exact_at_its_edges(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    """A box drawn on a Chinese map: a store 1 m inside its edge (in GCJ-02) is in it, 1 m
    outside is not, though the datum shift there is about 500 m."""
    edge_lat = 31.25
    north = []
    for metres in (-1.0, 1.0):
        gcj_lat, gcj_lng = offset(edge_lat, 121.47, 0.0, metres)
        wgs = to_wgs84(gcj_lat, gcj_lng, CoordSystem.GCJ02)
        north.append(await insert_merchant(conn, owner_id, lat=wgs[0], lng=wgs[1]))
    body = await bbox(
        client, min_lat=31.2, min_lng=121.4, max_lat=edge_lat, max_lng=121.5, coord="gcj02"
    )
    assert [r["id"] for r in body["results"]] == [str(north[0].id)]
    assert body["results"][0]["location"]["lat"] <= edge_lat


# --------------------------------------------------------------------------------------- clusters


async def clusters(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    return await checked_get(client, "/v1/search/clusters", ClusterPage, params)


async def test_clusters_count_merchants_per_h3_parent_with_their_mean_position(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    points = [(31.20 + 0.003 * i, 121.45 + 0.002 * (i % 4)) for i in range(30)]
    rows = [await insert_merchant(conn, owner_id, lat=a, lng=b) for a, b in points]
    body = await clusters(
        client, min_lat=31.1, min_lng=121.4, max_lat=31.4, max_lng=121.6, resolution=8
    )
    expected: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        # The contract: each merchant counts in the parent of its own (res 15) cell, which is
        # not always the res-8 cell around its point (H3 children do not tile their parent).
        cell = h3i.cell_to_parent(row.h3, 8)
        expected.setdefault(f"{cell:x}", []).append((row.lat, row.lng))
    assert {c["h3"]: c["count"] for c in body["clusters"]} == {
        k: len(v) for k, v in expected.items()
    }
    for c in body["clusters"]:
        members = expected[c["h3"]]
        assert c["lat"] == pytest.approx(sum(p[0] for p in members) / len(members), abs=1e-9)
        assert c["lng"] == pytest.approx(sum(p[1] for p in members) / len(members), abs=1e-9)
    counts = [c["count"] for c in body["clusters"]]
    assert counts == sorted(counts, reverse=True) and body["resolution"] == 8


async def test_clusters_choose_a_resolution_from_the_box_and_can_truncate(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    for i in range(6):
        await insert_merchant(conn, owner_id, lat=31.2 + i * 0.05, lng=121.45)
    body = await clusters(client, min_lat=31.0, min_lng=121.0, max_lat=31.6, max_lng=121.9)
    assert 5 <= body["resolution"] <= 8 and body["truncated"] is False
    body = await clusters(
        client, min_lat=31.0, min_lng=121.0, max_lat=31.6, max_lng=121.9, resolution=12, limit=2
    )
    assert len(body["clusters"]) == 2 and body["truncated"] is True


async def test_a_cluster_on_the_antimeridian_sits_on_it(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    for lng in (179.99, -179.99, 179.995, -179.995):
        await insert_merchant(conn, owner_id, lat=-16.5, lng=lng, timezone="Pacific/Fiji")
    body = await clusters(client, min_lat=-17, min_lng=179, max_lat=-16, max_lng=-179, resolution=3)
    (cluster,) = body["clusters"]
    assert cluster["count"] == 4 and abs(abs(cluster["lng"]) - 180) < 0.01


async def test_cluster_positions_follow_the_datum(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    row = await insert_merchant(conn, owner_id, lat=31.2304, lng=121.4737)
    body = await clusters(
        client,
        min_lat=31.2,
        min_lng=121.4,
        max_lat=31.3,
        max_lng=121.5,
        coord="gcj02",
        resolution=9,
    )
    (cluster,) = body["clusters"]
    assert (cluster["lat"], cluster["lng"]) == pytest.approx(
        from_wgs84(row.lat, row.lng, CoordSystem.GCJ02), abs=1e-9
    )
    keep, set_bits = parent_masks(9)
    assert int(cluster["h3"], 16) == (row.h3 & keep) | set_bits


async def test_cluster_boundaries_are_the_h3_cells_drawn_in_the_datum(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    row = await insert_merchant(conn, owner_id, lat=31.2304, lng=121.4737)
    params: dict[str, Any] = {"min_lat": 31.2, "min_lng": 121.4, "max_lat": 31.3, "max_lng": 121.5}
    params["resolution"] = 9
    (plain,) = (await clusters(client, **params))["clusters"]
    assert "boundary" not in plain
    for system in CoordSystem:
        body = await clusters(client, **params, coord=system.value, boundaries="true")
        (cluster,) = body["clusters"]
        cell = int(cluster["h3"], 16)
        expected = [from_wgs84(lat, lng, system) for lat, lng in h3i.cell_to_boundary(cell)]
        ring = cluster["boundary"]
        assert ring[0] == ring[-1] and len(ring) == 7
        assert [p[1] for p in ring[:-1]] == pytest.approx([lat for lat, _ in expected], abs=1e-9)
        assert [p[0] for p in ring[:-1]] == pytest.approx([lng for _, lng in expected], abs=1e-9)
        # The merchant's own point lies inside its cell's outline in every system.
        located = from_wgs84(row.lat, row.lng, system)
        assert shapely.Polygon(ring).contains(shapely.Point(located[1], located[0]))


async def test_a_cluster_boundary_on_the_antimeridian_does_not_jump_across_the_map(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    await insert_merchant(conn, owner_id, lat=-16.5, lng=179.999, timezone="Pacific/Fiji")
    body = await clusters(
        client, min_lat=-17, min_lng=179, max_lat=-16, max_lng=-179, resolution=2, boundaries=1
    )
    (cluster,) = body["clusters"]
    lngs = [lng for lng, _ in cluster["boundary"]]
    assert max(lngs) - min(lngs) < 10 and max(abs(lng) for lng in lngs) > 180
