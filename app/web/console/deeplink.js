// The pages a QR code or a shared link opens (/m/<store id>, /o/<offer id>?s=<share code>): the
// store or the offer on the map with its details, every string as text. An offer's share code
// is carried (window.nearby.share, and on the page) so that a claim made from here can name it
// (POST /v1/offers/{id}/claims with "share").

import { api } from "./api.js";
import { el } from "./dom.js";
import { fenceLayer, toLatLng } from "./geo.js";
import { showError } from "./message.js";
import { storeDetails } from "./store.js";

const UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
const SHARE = /^[0-9A-Za-z]{1,32}$/;

// What the address asks for: {kind: "m"|"o", id, share} or null (the ordinary console); a path
// under /m/ or /o/ that is not an id is {kind, id: null}.
export function linkOfAddress(location) {
  const match = /^\/(m|o)\/(.*)$/.exec(location.pathname);
  if (!match) return null;
  const id = new RegExp(`^${UUID}$`).test(match[2]) ? match[2].toLowerCase() : null;
  const share = new URLSearchParams(location.search).get("s");
  return { kind: match[1], id, share: match[1] === "o" ? share : null };
}

const section = () => document.getElementById("deeplink");
const say = (text) => document.getElementById("deeplink-status").replaceChildren(text);

function dateText(value) {
  return value ? new Date(value).toLocaleString() : "—";
}

export async function showLink(map, link) {
  for (const other of document.querySelectorAll("section[data-mode], nav[role='tablist'], #coord")) other.hidden = true;
  section().hidden = false;
  const what = link.kind === "m" ? "store" : "offer";
  if (!link.id) {
    say(`This link does not name ${link.kind === "m" ? "a store" : "an offer"}: check that it was copied whole.`);
    return;
  }
  try {
    if (link.kind === "m") await showStore(map, link.id);
    else await showOffer(map, link.id, link.share);
  } catch (error) {
    if (error.status === 404) say(`There is no ${what} ${link.id}: it may have been removed.`);
    else {
      say(`The ${what} could not be loaded.`);
      showError(`Loading the ${what}`, error);
    }
  }
}

async function showStore(map, id) {
  const store = await api(`/v1/merchants/${id}`);
  const card = document.getElementById("deeplink-card");
  card.replaceChildren(
    el("h2", { className: "name", id: "deeplink-name" }, store.name),
    storeDetails(store),
  );
  say("");
  const at = toLatLng(store.location, store.location.lng);
  L.circleMarker(at, { radius: 8, color: "#fff", weight: 2, fillColor: "#1f6feb", fillOpacity: 1 })
    .bindTooltip(el("span", {}, store.name))
    .addTo(map);
  map.setView(at, 16);
}

async function showOffer(map, id, share) {
  const offer = await api(`/v1/offers/${id}`);
  const store = await api(`/v1/merchants/${offer.merchant_id}`);
  const rows = [
    ["Store", store.name],
    ["Status", offer.status],
    ["Starts", dateText(offer.starts_at)],
    ["Ends", dateText(offer.ends_at)],
    ["Codes left", offer.remaining === null ? "unlimited" : String(offer.remaining)],
  ];
  const details = el("dl", { className: "details" });
  for (const [term, value] of rows) details.append(el("dt", {}, term), el("dd", {}, value));
  const card = document.getElementById("deeplink-card");
  card.replaceChildren(
    el("h2", { className: "name", id: "deeplink-name" }, offer.title),
    offer.description ? el("p", { id: "deeplink-description" }, offer.description) : null,
    details,
    el("h3", {}, "Store"),
    storeDetails(store),
  );
  say("");
  window.nearby.share = null;
  if (share !== null) await carryShare(offer.id, share);
  const reference = store.location.lng;
  const fence = fenceLayer(offer.geofence, reference, { color: "#d9480f", weight: 2, fillOpacity: 0.12 });
  fence.bindTooltip(el("span", {}, offer.title)).addTo(map);
  L.circleMarker(toLatLng(store.location, reference), {
    radius: 7, color: "#fff", weight: 2, fillColor: "#1f6feb", fillOpacity: 1,
  }).bindTooltip(el("span", {}, store.name)).addTo(map);
  map.fitBounds(fence.getBounds(), { maxZoom: 17 });
}

// The share of the link, shown and kept when it is a share of this offer (GET /v1/shares/{code}).
async function carryShare(offerId, code) {
  const line = document.getElementById("deeplink-share");
  line.hidden = false;
  if (!SHARE.test(code)) {
    line.replaceChildren("This link's share code is not valid; a claim from here would not be attributed.");
    return;
  }
  try {
    const shared = await api(`/v1/shares/${code}`);
    if (shared.offer.id !== offerId) throw Object.assign(new Error("another offer's share"), { status: 404 });
    window.nearby.share = code;
    line.dataset.share = code;
    line.replaceChildren(`Shared with you (share ${code}): a claim from here is credited to it.`);
  } catch (error) {
    if (error.status !== 404) throw error;
    line.replaceChildren("This link's share code is not one of this offer's; a claim from here would not be attributed.");
  }
}
