"""Demo data: the OpenStreetMap stores of central Helsinki (app/demo_data/helsinki_osm.csv).

Loaded for `make run` under one demo owner through the import pipeline (app/imports.py), upserted
by OSM id, so loading twice changes nothing (not even updated_at). OSM rows are mapped to store
fields here; what cannot become a store (no name) is counted and reported, and `opening_hours`
values outside the supported syntax are kept in the attributes.

The demo app (an app of end users, for claiming the demo offers) gets a fresh key and signing
secret at every load.

Each mall, department store and market hall of app/demo_data/helsinki_osm_geofences.geojson gets
an offer fenced by its outline, from the store inside it nearest its middle; an offer already there
(same store, same title) is left as it is, so its claims survive a reload.

The demo owner's key can be kept in a file (`kept_key`, under NEARBY_STATE_DIR; `make run` uses
.state/), so a restart of `make run` leaves the console signed in; the demo app's key of the last
load is kept there too (`keep_app_key`), for `nearby simulate-walk`. A random key in a file only
its owner may read, like any credentials file: a key derived from something (the admin key, a
constant) would be as public as that is. The database still stores only its hash.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import shapely
from sqlalchemy.ext.asyncio import AsyncConnection

from app import apps, merchants
from app.apps import NewApp
from app.auth import KEY_PREFIX, hash_key, new_api_key
from app.imports import load as import_load
from app.imports.formats import Record
from app.merchants import FieldError, checked_opening_hours
from app.package_data import DEMO_DATA
from app.queries import offers as offers_sql
from app.queries import owners as owners_sql
from app.queries.offers import OfferValues
from app.sealing import SecretBox
from spatial import CoordSystem, polygon_fence

DEMO_OWNER = "Helsinki demo (© OpenStreetMap contributors, ODbL)"
DEMO_APP = "Helsinki demo app"
HELSINKI_CSV = DEMO_DATA / "helsinki_osm.csv"
HELSINKI_FENCES = DEMO_DATA / "helsinki_osm_geofences.geojson"
OFFER_FENCES = ("shop=mall", "shop=department_store", "amenity=marketplace")
KEY_FILE = "demo-owner-key"
APP_KEY_FILE = "demo-app-key"  # the demo app's key of the last load (`nearby simulate-walk`)
_KEY = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class DemoLoad:
    owner_id: str
    api_key: str
    loaded: int
    skipped: dict[str, int]
    offers: list[str] = field(default_factory=list)  # titles of the demo offers
    app: NewApp | None = None  # the demo app, with its new key and signing secret


async def load(
    conn: AsyncConnection,
    path: Path = HELSINKI_CSV,
    *,
    api_key: str | None = None,
    box: SecretBox | None = None,
) -> DemoLoad:
    """Upsert the demo stores, give the demo owner `api_key`, else a fresh key (only its hash is
    stored), and the demo app a fresh key and signing secret (sealed in `box`, else kept plain)."""
    api_key = api_key or new_api_key()
    existing = await owners_sql.owner_by_name(conn, name=DEMO_OWNER)
    if existing is None:
        owner, _ = await merchants.create_owner(conn, name=DEMO_OWNER)
        owner_id = owner.id
    else:
        owner_id = existing.id
    await owners_sql.set_owner_key(conn, owner_id=owner_id, api_key_hash=hash_key(api_key))
    records, skipped = stores_from_osm(path)
    loaded, rejected = await import_load.load_records(
        conn, owner_id=owner_id, records=records, coord=CoordSystem.WGS84
    )
    for _, column, msg in rejected:
        reason = f"{column}: {msg}"
        skipped[reason] = skipped.get(reason, 0) + 1
    offers = await _load_offers(conn, owner_id, records)
    stored = loaded.rows_total - loaded.rows_failed
    app = await apps.create_or_renew(conn, name=DEMO_APP, box=box or SecretBox(None))
    return DemoLoad(str(owner_id), api_key, stored, skipped, offers, app)


def kept_key(state_dir: Path) -> str:
    """The demo owner's key kept in `state_dir`; a new one, written for its owner's eyes only,
    when there is none (or what is there is not a key)."""
    path = state_dir / KEY_FILE
    try:
        kept = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        kept = ""
    if _KEY.fullmatch(kept):
        return kept
    state_dir.mkdir(parents=True, exist_ok=True)
    api_key = new_api_key()
    fresh = path.with_suffix(".new")
    with os.fdopen(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(api_key + "\n")
    fresh.replace(path)
    return api_key


def keep_app_key(state_dir: Path, app_key: str) -> None:
    """Keep the demo app's new key in `state_dir` (for its owner's eyes only), where
    `nearby simulate-walk` finds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / APP_KEY_FILE
    fresh = path.with_suffix(".new")
    with os.fdopen(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(app_key + "\n")
    fresh.replace(path)


def stores_from_osm(path: Path) -> tuple[list[Record], dict[str, int]]:
    stores: list[Record] = []
    skipped: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for number, row in enumerate(csv.DictReader(f), start=1):
            if not row["name"].strip():
                skipped["no name"] = skipped.get("no name", 0) + 1
                continue
            stores.append(Record(number, _store(row)))
    return stores, skipped


def _store(row: dict[str, str]) -> dict[str, Any]:
    attributes: dict[str, Any] = {"osm": f"{row['osm_type']}/{row['osm_id']}"}
    for key in ("brand", "cuisine", "website", "level"):
        if row[key]:
            attributes[key] = row[key]
    street = " ".join(part for part in (row["addr_street"], row["addr_housenumber"]) if part)
    town = " ".join(part for part in (row["addr_postcode"], row["addr_city"]) if part)
    category = row["category_value"] if row["category_value"] != "yes" else row["category_key"]
    tags = [t.strip() for t in row["cuisine"].split(";") if t.strip()]
    hours = row["opening_hours"] or None
    try:
        checked_opening_hours(hours)
    except FieldError:
        attributes["opening_hours_unsupported"] = hours
        hours = None
    store: dict[str, Any] = {
        "external_id": attributes["osm"],
        "name": row["name"].strip(),
        "category": category,
        "tags": tags + ([row["brand"]] if row["brand"] else []),
        "address": ", ".join(part for part in (street, town) if part) or None,
        "phone": row["phone"] or None,
        "lat": float(row["lat"]),
        "lng": float(row["lon"]),
        "timezone": "Europe/Helsinki",
        "opening_hours": hours,
        "attributes": attributes,
    }
    return {key: value for key, value in store.items() if value is not None}


async def _load_offers(conn: AsyncConnection, owner_id: UUID, stores: list[Record]) -> list[str]:
    """An offer in each mall, department store and market hall; existing ones are kept."""
    with HELSINKI_FENCES.open(encoding="utf-8") as f:
        features = json.load(f)["features"]
    points = {
        s.values["external_id"]: shapely.Point(s.values["lng"], s.values["lat"]) for s in stores
    }
    chosen: dict[str, tuple[str, dict[str, Any]]] = {}
    for feature in features:
        props = feature["properties"]
        if props["fence_kind"] not in OFFER_FENCES or not props["name"]:
            continue
        outline = shapely.geometry.shape(feature["geometry"])
        inside = [e for e, point in points.items() if outline.covers(point)]
        if inside:
            middle = outline.representative_point()
            external_id = min(inside, key=lambda e: middle.distance(points[e]))
            chosen[f"{props['name']}: 10% off today"] = (external_id, feature["geometry"])
    ids = await offers_sql.merchant_ids(
        conn, owner_id=owner_id, external_ids=[e for e, _ in chosen.values()]
    )
    for title, (external_id, geometry) in chosen.items():
        merchant_id = ids[external_id]
        existing = await offers_sql.offers_of_merchant(
            conn, merchant_id=merchant_id, before=None, limit=100
        )
        if any(offer.title == title for offer in existing):
            continue
        fence = polygon_fence(geometry["type"], geometry["coordinates"], CoordSystem.WGS84)
        values = OfferValues(
            title=title,
            description="Show the code at the till. Demo data: © OpenStreetMap contributors.",
            fence=fence,
            # an hour back: `nearby simulate-walk` walks in the last half hour (app/walk.py)
            starts_at=datetime.now(UTC) - timedelta(hours=1),
            ends_at=None,
            quantity=100,
            per_user_limit=1,
        )
        await offers_sql.insert_offer(conn, merchant_id=merchant_id, values=values)
    return sorted(chosen)
