// The map without any tile server: Natural Earth 1:10m land and borders (public domain, from the
// npm package world-atlas, served by this service) drawn as vector layers on a canvas.

import { onLanguageChange, t } from "./i18n.js";

export function createMap(element) {
  const map = L.map(element, { worldCopyJump: true, minZoom: 2, maxZoom: 19, zoomControl: false });
  map.attributionControl.setPrefix(false);
  // The map's own words (its zoom buttons' titles, the outlines' credit) in the page's language.
  let attribution = null;
  let zoom = null;
  const label = () => {
    if (attribution) map.attributionControl.removeAttribution(attribution);
    attribution = t("map.attribution");
    map.attributionControl.addAttribution(attribution);
    zoom?.remove();
    zoom = L.control.zoom({ zoomInTitle: t("map.zoom-in"), zoomOutTitle: t("map.zoom-out") }).addTo(map);
  };
  label();
  onLanguageChange(label);
  L.control.scale({ imperial: false }).addTo(map);
  map.createPane("land").style.zIndex = 250; // under the overlays (400), over the sea colour
  return map;
}

export async function addLand(map) {
  const response = await fetch("/vendor/world-atlas/countries-10m.json");
  if (!response.ok) throw new Error(t("map.land-missing", { status: String(response.status) }));
  const world = await response.json();
  const renderer = L.canvas({ pane: "land", padding: 0.2 });
  const land = topojson.feature(world, world.objects.land);
  const borders = topojson.mesh(world, world.objects.countries, (a, b) => a !== b);
  L.geoJSON(land, {
    renderer,
    interactive: false,
    style: { color: "#b7ae98", weight: 1, fillColor: "#f3f0e6", fillOpacity: 1 },
  }).addTo(map);
  L.geoJSON(borders, {
    renderer,
    interactive: false,
    style: { color: "#a0957d", weight: 1, dashArray: "5 4", fill: false },
  }).addTo(map);
}
