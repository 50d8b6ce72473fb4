// The whole loop through the typed client, against a running service:
// owner -> store -> offer -> app -> a user's claim -> redeem -> the events that followed.
// NEARBY_URL and NEARBY_ADMIN_KEY name the service; prints one JSON line; exits 1 on any surprise.
import { nearby, type Problem } from "./client.js";

const baseUrl = process.env.NEARBY_URL ?? "http://127.0.0.1:8000";
const adminKey = process.env.NEARBY_ADMIN_KEY;
if (!adminKey) throw new Error("NEARBY_ADMIN_KEY is not set");

/** The body of a successful answer, else an error naming the step and the problem details. */
function ok<T>(step: string, answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.data === undefined) {
    const problem = answer.error as Problem | undefined;
    throw new Error(`${step}: ${answer.response.status} ${problem?.detail ?? ""}`);
  }
  return answer.data;
}

const admin = nearby(baseUrl, adminKey);
const suffix = Date.now().toString(36);

const owner = ok("create owner", await admin.POST("/v1/owners", { body: { name: `TS client ${suffix}` } }));
const asOwner = nearby(baseUrl, owner.api_key);

const store = ok(
  "create store",
  await asOwner.POST("/v1/merchants", {
    body: {
      external_id: `ts-${suffix}`,
      name: "Typed Cafe",
      category: "cafe",
      location: { lat: 60.1699, lng: 24.9384 },
      opening_hours: "24/7",
    },
  }),
);

const offer = ok(
  "create offer",
  await asOwner.POST("/v1/merchants/{merchant_id}/offers", {
    params: { path: { merchant_id: store.id } },
    body: {
      title: "Typed coffee",
      geofence: { type: "circle", center: { lat: 60.1699, lng: 24.9384 }, radius_m: 200 },
      quantity: 10,
    },
  }),
);

const app = ok("create app", await admin.POST("/v1/apps", { body: { name: `TS app ${suffix}` } }));
const asApp = nearby(baseUrl, app.app_key);

const here = ok(
  "offers here",
  await nearby(baseUrl).GET("/v1/offers/here", { params: { query: { lat: 60.17, lng: 24.9385 } } }),
);
if (!here.results.some((o) => o.id === offer.id)) throw new Error("the offer is not listed here");

const claim = ok(
  "claim",
  await asApp.POST("/v1/offers/{offer_id}/claims", {
    params: { path: { offer_id: offer.id }, header: { "Idempotency-Key": `claim-${suffix}` } },
    body: { user_id: "ts-user", lat: 60.17, lng: 24.9385, accuracy_m: 10 },
  }),
);

const redeemed = ok(
  "redeem",
  await asOwner.POST("/v1/claims/{code}/redeem", { params: { path: { code: claim.code } } }),
);

// A second redeem is refused with problem details (409). openapi-fetch types only JSON media
// types named */json, so application/problem+json arrives untyped: Problem says its shape.
const again = await asOwner.POST("/v1/claims/{code}/redeem", { params: { path: { code: claim.code } } });
if (again.response.status !== 409 || (again.error as Problem | undefined)?.status !== 409) {
  throw new Error(`a second redeem answered ${again.response.status}`);
}

const events = ok("events", await asOwner.GET("/v1/events", { params: { query: {} } }));

console.log(
  JSON.stringify({
    owner: owner.id,
    store: store.id,
    offer: offer.id,
    app: app.id,
    code: claim.code,
    redeemed_at: redeemed.redeemed_at,
    events: events.results.map((e) => e.type),
  }),
);
