"""`nearby simulate-walk`: a demo user walks through central Helsinki past the demo offers'
fences, so a newcomer sees fence.entered, fence.dwelled and fence.exited (and, with
`--webhook`, their signed deliveries to a local receiver) within a minute.

It talks to a running service over HTTP (`serve --demo`), as a mini program's backend would:
the demo app's key for POST /v1/track, the demo owner's key for webhooks and `--dwell`. Both
are read from the state directory `make run` keeps (.state/: `demo-owner-key`, `demo-app-key`)
unless given.

The walk is compressed in time: its points are `interval` seconds apart in the user's time
(their `at`), sent `pace` seconds apart in ours, every point's `at` in the past. The route goes
from 250 m west of the first fence to a spot inside it, stays there for the offer's `dwell_s`
and a little more, walks on to the next fence and stays again, then walks 250 m on. Each run is
a new user (`walker-<hex>`), so the newest-point rule of an earlier run does not hold it back.
The calls stay under the tracking limit (60 a minute per user) by sending a few points each.

The receiver (`--webhook`) is a tiny HTTP server on 127.0.0.1: a webhook for the fence events
is registered to it (the service must allow private targets:
NEARBY_WEBHOOK_ALLOW_PRIVATE=true), every delivery is printed with its signature checked, and
the webhook is deleted at the end.
"""

from __future__ import annotations

import hmac
import json
import queue
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import shapely
from pyproj import Geod

from app.demo import APP_KEY_FILE, HELSINKI_FENCES, KEY_FILE, OFFER_FENCES
from app.webhooks import sign

FENCE_EVENTS = ["fence.entered", "fence.dwelled", "fence.exited"]
DEFAULT_THROUGH = ("Forum", "Stockmann")
WALK_SPEED_M_S = 1.4
APPROACH_M = 250.0
POINTS_PER_CALL = 3
_GEOD = Geod(ellps="WGS84")


class WalkError(Exception):
    """Why the walk cannot go on, for the person who started it."""


@dataclass(frozen=True)
class WalkOptions:
    url: str = "http://127.0.0.1:8000"
    app_key: str | None = None
    owner_key: str | None = None
    state_dir: Path = Path(".state")
    through: tuple[str, ...] = DEFAULT_THROUGH
    dwell_s: int | None = None  # set the visited offers' dwell_s first (the owner's key)
    interval_s: float = 10.0  # between points, in the walker's time
    pace_s: float = 0.5  # between calls, in ours
    webhook: bool = False
    receiver_port: int = 0  # 0: any free port
    wait_s: float = 30.0  # for the deliveries after the walk


@dataclass(frozen=True)
class Stop:
    """A fence on the route: where to stand inside it, and the offer's title and dwell_s."""

    name: str
    lat: float
    lng: float
    offer_id: str
    title: str
    dwell_s: int
    starts_at: datetime


@dataclass
class Delivery:
    event_id: str
    type: str
    offer_id: str
    verified: bool


@dataclass
class Receiver:
    """The local webhook receiver: checks each delivery's signature against `secret`."""

    port: int
    secret: str = ""
    arrived: queue.Queue[Delivery] = field(default_factory=queue.Queue)
    shown: list[Delivery] = field(default_factory=list)  # taken from `arrived` and printed
    _server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                verified = receiver.verify(self.headers.get("Nearby-Signature", ""), body)
                self.send_response(200 if verified else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                try:
                    event = json.loads(body)
                except ValueError:
                    event = {}
                receiver.arrived.put(
                    Delivery(
                        str(self.headers.get("Nearby-Event-Id", "?")),
                        str(event.get("type", "?")),
                        str(event.get("offer_id", "")),
                        verified,
                    )
                )

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the walk prints what matters

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def verify(self, header: str, body: bytes) -> bool:
        """Nearby-Signature `t=<unix>,v1=<hex>` is the HMAC of "<t>.<body>" with the secret."""
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        t = parts.get("t", "")
        if not t.isdigit() or not self.secret:
            return False
        return hmac.compare_digest(sign(self.secret, body, int(t)), f"t={t},v1={parts.get('v1')}")


def run(options: WalkOptions, say: Callable[[str], None]) -> int:
    """Walk; print each event (and delivery). 0 when entered, dwelled and exited were all seen
    (and, with the receiver, each of their deliveries arrived with a good signature)."""
    app_key = options.app_key or _kept(options.state_dir, APP_KEY_FILE, "--app-key")
    owner_key = options.owner_key
    if options.webhook or options.dwell_s is not None:
        owner_key = owner_key or _kept(options.state_dir, KEY_FILE, "--owner-key")
    receiver, webhook_id = None, None
    with httpx.Client(base_url=options.url, timeout=30) as http:
        try:
            if options.webhook:
                assert owner_key is not None
                receiver = Receiver(options.receiver_port)
                receiver.start()
                webhook_id, receiver.secret = _register(http, owner_key, receiver.port)
                say(f"webhook {webhook_id} -> http://127.0.0.1:{receiver.port}/nearby")
            stops = _stops(http, options.through)
            if options.dwell_s is not None:
                assert owner_key is not None
                stops = [_set_dwell(http, owner_key, stop, options.dwell_s) for stop in stops]
            titles = {stop.offer_id: stop.title for stop in stops}
            user = f"walker-{secrets.token_hex(3)}"
            say(f"{user} walks through {', '.join(s.name for s in stops)} ({options.url})")
            seen = _walk(http, app_key, user, stops, options, titles, say, receiver)
            delivered = _await_deliveries(receiver, seen, options.wait_s, titles, say)
        finally:
            if receiver is not None:
                receiver.stop()
            if webhook_id is not None:
                assert owner_key is not None
                http.delete(f"/v1/webhooks/{webhook_id}", headers=_bearer(owner_key))
    types = {t for _, t in seen}
    missing = [t for t in FENCE_EVENTS if t not in types]
    if missing:
        say(f"not seen: {', '.join(missing)}")
        return 1
    return 0 if delivered else 1


def route(stops: list[Stop], interval_s: float) -> Iterator[tuple[float, float]]:
    """The walk's positions, `interval_s` apart: 250 m west of the first stop to it, a stay of
    its dwell_s and three more points, on to the next, and 250 m east of the last."""
    step_m = WALK_SPEED_M_S * interval_s
    first, last = stops[0], stops[-1]
    start_lng, start_lat, _ = _GEOD.fwd(first.lng, first.lat, 270, APPROACH_M)
    end_lng, end_lat, _ = _GEOD.fwd(last.lng, last.lat, 90, APPROACH_M)
    here = (start_lat, start_lng)
    for stop in stops:
        yield from _leg(here, (stop.lat, stop.lng), step_m)
        for _ in range(int(stop.dwell_s // interval_s) + 3):
            yield stop.lat, stop.lng
        here = (stop.lat, stop.lng)
    yield from _leg(here, (end_lat, end_lng), step_m)
    yield end_lat, end_lng


def _leg(
    a: tuple[float, float], b: tuple[float, float], step_m: float
) -> Iterator[tuple[float, float]]:
    n = max(1, int(_GEOD.inv(a[1], a[0], b[1], b[0])[2] // step_m))
    for lng, lat in _GEOD.npts(a[1], a[0], b[1], b[0], n):
        yield lat, lng


def _walk(
    http: httpx.Client,
    app_key: str,
    user: str,
    stops: list[Stop],
    options: WalkOptions,
    titles: dict[str, str],
    say: Callable[[str], None],
    receiver: Receiver | None,
) -> list[tuple[str, str]]:
    jitter = random.Random(user)
    positions = list(route(stops, options.interval_s))
    begin = datetime.now(UTC) - timedelta(seconds=options.interval_s * len(positions))
    started = max(stop.starts_at for stop in stops)
    if begin < started:
        raise WalkError(
            f"the walk's points span the last {(datetime.now(UTC) - begin).seconds // 60} minutes,"
            f" but an offer on its route started only at {started.isoformat()}: try a shorter"
            " --interval or --dwell, or a later run"
        )
    seen: list[tuple[str, str]] = []
    for first in range(0, len(positions), POINTS_PER_CALL):
        points = []
        for i, (lat, lng) in enumerate(positions[first : first + POINTS_PER_CALL], start=first):
            at = begin + timedelta(seconds=options.interval_s * i)
            points.append(
                {
                    "lat": lat + jitter.uniform(-2e-5, 2e-5),
                    "lng": lng + jitter.uniform(-4e-5, 4e-5),
                    "at": at.isoformat(),
                    "accuracy_m": round(jitter.uniform(4, 12), 1),
                }
            )
        response = http.post(
            "/v1/track", json={"user_id": user, "points": points}, headers=_bearer(app_key)
        )
        if response.status_code != 200:
            raise WalkError(f"POST /v1/track answered {response.status_code}: {response.text}")
        for event in response.json()["events"]:
            title = titles.get(event["offer_id"]) or _title(http, event["offer_id"], titles)
            say(f"{event['at']}  {event['type']:<14} {title}  (event {event['id']})")
            seen.append((event["id"], event["type"]))
        if receiver is not None:
            _show_deliveries(receiver, titles, say)
        time.sleep(options.pace_s)
    return seen


def _await_deliveries(
    receiver: Receiver | None,
    seen: list[tuple[str, str]],
    wait_s: float,
    titles: dict[str, str],
    say: Callable[[str], None],
) -> bool:
    """Wait until every event seen was delivered (and verified); whether they all were."""
    if receiver is None:
        return True
    wanted = {event_id for event_id, _ in seen}
    deadline = time.monotonic() + wait_s
    while True:
        _show_deliveries(receiver, titles, say)
        good = {d.event_id for d in receiver.shown if d.verified}
        if wanted <= good:
            say(f"all {len(wanted)} events delivered to the webhook, every signature verified")
            return True
        if time.monotonic() > deadline:
            say(f"not delivered within {wait_s:.0f} s: events {sorted(wanted - good)}")
            return False
        time.sleep(0.2)


def _show_deliveries(
    receiver: Receiver, titles: dict[str, str], say: Callable[[str], None]
) -> None:
    """Print the deliveries that arrived since the last look."""
    while True:
        try:
            delivery = receiver.arrived.get_nowait()
        except queue.Empty:
            break
        receiver.shown.append(delivery)
        check = "signature ok" if delivery.verified else "BAD SIGNATURE"
        title = titles.get(delivery.offer_id, delivery.offer_id)
        say(f"  webhook got {delivery.type} {title} (event {delivery.event_id}): {check}")


def _stops(http: httpx.Client, names: tuple[str, ...]) -> list[Stop]:
    """The named demo fences, each with the offer found at a spot inside it."""
    with HELSINKI_FENCES.open(encoding="utf-8") as f:
        features = json.load(f)["features"]
    outlines = {
        feature["properties"]["name"]: shapely.geometry.shape(feature["geometry"])
        for feature in features
        if feature["properties"]["fence_kind"] in OFFER_FENCES and feature["properties"]["name"]
    }
    stops = []
    for name in names:
        if name not in outlines:
            raise WalkError(f"no demo fence is called {name!r}; there are: {sorted(outlines)}")
        spot = outlines[name].representative_point()
        response = http.get("/v1/offers/here", params={"lat": spot.y, "lng": spot.x})
        if response.status_code != 200:
            raise WalkError(f"GET /v1/offers/here answered {response.status_code}")
        found = [o for o in response.json()["results"] if name in o["title"]]
        if not found:
            raise WalkError(
                f"no demo offer in {name} at {spot.y:.5f}, {spot.x:.5f}: was the service"
                " started with --demo (make run)?"
            )
        offer = found[0]
        starts_at = datetime.fromisoformat(offer["starts_at"])
        stops.append(
            Stop(name, spot.y, spot.x, offer["id"], offer["title"], offer["dwell_s"], starts_at)
        )
    return stops


def _set_dwell(http: httpx.Client, owner_key: str, stop: Stop, dwell_s: int) -> Stop:
    response = http.patch(
        f"/v1/offers/{stop.offer_id}", json={"dwell_s": dwell_s}, headers=_bearer(owner_key)
    )
    if response.status_code != 200:
        raise WalkError(f"setting dwell_s answered {response.status_code}: {response.text}")
    return Stop(stop.name, stop.lat, stop.lng, stop.offer_id, stop.title, dwell_s, stop.starts_at)


def _register(http: httpx.Client, owner_key: str, port: int) -> tuple[str, str]:
    response = http.post(
        "/v1/webhooks",
        json={"url": f"http://127.0.0.1:{port}/nearby", "events": FENCE_EVENTS},
        headers=_bearer(owner_key),
    )
    if response.status_code == 422 and "private" in response.text.lower():
        raise WalkError(
            "the service refuses webhooks to 127.0.0.1: start it with"
            " NEARBY_WEBHOOK_ALLOW_PRIVATE=true (e.g. NEARBY_WEBHOOK_ALLOW_PRIVATE=true make run)"
        )
    if response.status_code != 201:
        raise WalkError(f"POST /v1/webhooks answered {response.status_code}: {response.text}")
    body = response.json()
    return str(body["id"]), str(body["secret"])


def _title(http: httpx.Client, offer_id: str, titles: dict[str, str]) -> str:
    response = http.get(f"/v1/offers/{offer_id}")
    titles[offer_id] = response.json()["title"] if response.status_code == 200 else offer_id
    return titles[offer_id]


def _kept(state_dir: Path, name: str, option: str) -> str:
    try:
        return (state_dir / name).read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        raise WalkError(
            f"no {state_dir / name}: start the service with `make run` (it keeps the demo keys"
            f" in .state/), or give {option}"
        ) from None


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
