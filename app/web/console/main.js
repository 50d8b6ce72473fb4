// The console's wiring: the map, the two modes (Explore, Merchant; the merchant's events and
// webhooks go with its mode), the coordinate and language switches, and the view kept in the
// address (#map=zoom/lat/lng) so a view can be shared or reloaded.

import { api } from "./api.js";
import { addLand, createMap } from "./basemap.js";
import { linkOfAddress, showLink } from "./deeplink.js";
import { EventFeed } from "./events.js";
import { Explore } from "./explore.js";
import { languageSwitch, localize, onLanguageChange, t } from "./i18n.js";
import { Merchant } from "./merchant.js";
import { clearMessage, showError } from "./message.js";
import { onOwnerKeyChange } from "./ownerkey.js";
import { Webhooks } from "./webhooks.js";

localize();
languageSwitch(document.getElementById("language"));

const map = createMap(document.getElementById("map"));
let coord = "wgs84";
const currentCoord = () => coord;
const modes = { explore: new Explore(map, currentCoord), merchant: new Merchant(map, currentCoord) };
let mode = null;
const merchantParts = [new EventFeed(), new Webhooks()];
const stale = new Set(); // modes to redraw in the language chosen while they were hidden

function setMode(name) {
  if (mode === name) return;
  if (mode) modes[mode].deactivate();
  mode = name;
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.setAttribute("aria-selected", String(tab.dataset.mode === name));
  }
  for (const section of document.querySelectorAll("section[data-mode]")) {
    section.hidden = section.dataset.mode !== name;
  }
  modes[name].activate();
  for (const part of merchantParts) (name === "merchant" ? part.activate() : part.deactivate());
  if (stale.delete(name)) modes[name].coordChanged();
}

onOwnerKeyChange(() => {
  for (const part of merchantParts) part.keyChanged();
});

// A new language: the fixed words are switched (i18n.js); what the modes drew is drawn again.
onLanguageChange(() => {
  clearMessage();
  if (!mode) return; // a link's page (deeplink.js) writes itself again
  for (const name of Object.keys(modes)) if (name !== mode) stale.add(name);
  modes[mode].coordChanged();
  for (const part of merchantParts) part.relabel();
});

for (const tab of document.querySelectorAll('[role="tab"]')) {
  tab.addEventListener("click", () => setMode(tab.dataset.mode));
}

for (const radio of document.querySelectorAll('input[name="coord"]')) {
  radio.addEventListener("change", () => {
    coord = radio.value;
    modes[mode].coordChanged();
  });
}

function viewFromAddress() {
  const match = /map=(\d+)\/(-?[\d.]+)\/(-?[\d.]+)/.exec(window.location.hash);
  return match ? { zoom: Number(match[1]), centre: [Number(match[2]), Number(match[3])] } : null;
}

map.on("moveend", () => {
  if (linkOfAddress(window.location)) return; // a link's page keeps its address
  const { lat, lng } = map.getCenter();
  history.replaceState(null, "", `#map=${map.getZoom()}/${lat.toFixed(5)}/${lng.toFixed(5)}`);
});

// Where to look first: the address, else the busiest H3 cell of the whole world, else the world.
async function firstView() {
  const view = viewFromAddress();
  if (view) return view;
  try {
    const world = { min_lat: -90, min_lng: -180, max_lat: 90, max_lng: 180, resolution: 3, limit: 1 };
    const { clusters } = await api("/v1/search/clusters", { params: world });
    if (clusters.length) return { zoom: 13, centre: [clusters[0].lat, clusters[0].lng] };
  } catch (error) {
    showError(t("map.no-answer"), error);
  }
  return { zoom: 2, centre: [20, 0] };
}

// For the end-to-end tests and for poking around in the browser's console.
window.nearby = { map, modes, merchantParts, ready: false };
const link = linkOfAddress(window.location); // a QR code's or a shared link's page: /m/<id>, /o/<id>
if (link) {
  map.setView([20, 0], 2);
  await showLink(map, link);
} else {
  const { zoom, centre } = await firstView();
  map.setView(centre, zoom);
  setMode("explore");
}
addLand(map).catch((error) => showError(t("map.no-background"), error));
window.nearby.ready = true;
document.body.dataset.ready = "true";
