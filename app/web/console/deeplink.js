// The pages a QR code or a shared link opens (/m/<store id>, /o/<offer id>?s=<share code>): the
// store or the offer on the map with its details, every string as text. An offer's share code
// is carried (window.nearby.share, and on the page) so that a claim made from here can name it
// (POST /v1/offers/{id}/claims with "share").

import { api } from "./api.js";
import { el } from "./dom.js";
import { fenceLayer, toLatLng } from "./geo.js";
import { dateTime, number, onLanguageChange, t } from "./i18n.js";
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

// What the page says, kept so that a new language can write it again: the status line as
// [key, vars] (or null), the card and the share line as functions that build them.
const shown = { status: null, card: null, share: null };

function render() {
  const [key, vars] = shown.status ?? [null, {}];
  document.getElementById("deeplink-status").replaceChildren(key ? t(key, vars) : "");
  if (shown.card) document.getElementById("deeplink-card").replaceChildren(...shown.card());
  const line = document.getElementById("deeplink-share");
  line.hidden = !shown.share;
  if (shown.share) line.replaceChildren(shown.share());
}

function say(key, vars = {}) {
  shown.status = key ? [key, vars] : null;
  render();
}

function dateText(value) {
  return value ? dateTime(value) : "—";
}

export async function showLink(map, link) {
  for (const other of document.querySelectorAll("section[data-mode], nav[role='tablist'], #coord")) other.hidden = true;
  section().hidden = false;
  onLanguageChange(render);
  const store = link.kind === "m";
  if (!link.id) {
    say(store ? "deeplink.not-a-store" : "deeplink.not-an-offer");
    return;
  }
  try {
    if (store) await showStore(map, link.id);
    else await showOffer(map, link.id, link.share);
  } catch (error) {
    if (error.status === 404) say(store ? "deeplink.no-store" : "deeplink.no-offer", { id: link.id });
    else {
      say(store ? "deeplink.store-failed" : "deeplink.offer-failed");
      showError(t(store ? "deeplink.loading-store" : "deeplink.loading-offer"), error);
    }
  }
}

async function showStore(map, id) {
  const store = await api(`/v1/merchants/${id}`);
  shown.card = () => [el("h2", { className: "name", id: "deeplink-name" }, store.name), storeDetails(store)];
  say(null);
  const at = toLatLng(store.location, store.location.lng);
  L.circleMarker(at, { radius: 8, color: "#fff", weight: 2, fillColor: "#1f6feb", fillOpacity: 1 })
    .bindTooltip(el("span", {}, store.name))
    .addTo(map);
  map.setView(at, 16);
}

async function showOffer(map, id, share) {
  const offer = await api(`/v1/offers/${id}`);
  const store = await api(`/v1/merchants/${offer.merchant_id}`);
  shown.card = () => {
    const rows = [
      [t("deeplink.store"), store.name],
      [t("deeplink.status"), t(`status.${offer.status}`)],
      [t("merchant.starts"), dateText(offer.starts_at)],
      [t("merchant.ends"), dateText(offer.ends_at)],
      [t("deeplink.codes-left"), offer.remaining === null ? t("unlimited") : number(offer.remaining)],
    ];
    const details = el("dl", { className: "details" });
    for (const [term, value] of rows) details.append(el("dt", {}, term), el("dd", {}, value));
    return [
      el("h2", { className: "name", id: "deeplink-name" }, offer.title),
      offer.description ? el("p", { id: "deeplink-description" }, offer.description) : null,
      details,
      el("h3", {}, t("deeplink.store")),
      storeDetails(store),
    ].filter(Boolean);
  };
  say(null);
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
  if (!SHARE.test(code)) {
    shown.share = () => t("deeplink.share-invalid");
    render();
    return;
  }
  try {
    const shared = await api(`/v1/shares/${code}`);
    if (shared.offer.id !== offerId) throw Object.assign(new Error("another offer's share"), { status: 404 });
    window.nearby.share = code;
    line.dataset.share = code;
    shown.share = () => t("deeplink.shared", { code });
  } catch (error) {
    if (error.status !== 404) throw error;
    shown.share = () => t("deeplink.share-foreign");
  }
  render();
}
