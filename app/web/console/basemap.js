// The map without any tile server: Natural Earth 1:10m land and borders (public domain, from the
// npm package world-atlas, served by this service) drawn as vector layers on a canvas.

export function createMap(element) {
  const map = L.map(element, { worldCopyJump: true, minZoom: 2, maxZoom: 19, zoomControl: true });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("Outlines: Natural Earth (public domain)");
  L.control.scale({ imperial: false }).addTo(map);
  map.createPane("land").style.zIndex = 250; // under the overlays (400), over the sea colour
  return map;
}

export async function addLand(map) {
  const response = await fetch("/vendor/world-atlas/countries-10m.json");
  if (!response.ok) throw new Error(`the land outlines did not load (HTTP ${response.status})`);
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
