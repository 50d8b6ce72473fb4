// Positions on the Leaflet map: viewport boxes for the API, longitudes near the view, fences.

import { t } from "./i18n.js";

export const wrapLng = (lng) => ((((lng + 180) % 360) + 360) % 360) - 180;

// The same longitude, moved by whole turns to lie nearest `reference` (the view's centre), so a
// store at -179.9 shows beside a view centred on 179.8.
export const near = (lng, reference) => lng + 360 * Math.round((reference - lng) / 360);

export const toLatLng = (point, reference) => L.latLng(point.lat, near(point.lng, reference));

// The map's viewport as the API's box; min_lng > max_lng when it crosses the antimeridian.
export function viewportBox(bounds) {
  const clampLat = (lat) => Math.max(-90, Math.min(90, lat));
  let west = bounds.getWest();
  let east = bounds.getEast();
  if (east - west >= 360) {
    west = -180;
    east = 180;
  } else {
    west = wrapLng(west);
    east = -wrapLng(-east); // in (-180, 180]: a box ending on the antimeridian does not cross it
  }
  return {
    min_lat: clampLat(bounds.getSouth()),
    min_lng: west,
    max_lat: clampLat(bounds.getNorth()),
    max_lng: east,
  };
}

// A Leaflet layer for an offer's geofence as the API gives it: a circle or GeoJSON polygons.
export function fenceLayer(geofence, reference, style) {
  if (geofence.type === "circle") {
    return L.circle(toLatLng(geofence.center, reference), { ...style, radius: geofence.radius_m });
  }
  const polygons = geofence.type === "Polygon" ? [geofence.coordinates] : geofence.coordinates;
  const rings = polygons.map((polygon) =>
    polygon.map((ring) => ring.map(([lng, lat]) => L.latLng(lat, near(lng, reference)))),
  );
  return L.polygon(rings, style);
}

export function formatDistance(metres) {
  return metres < 1000 ? t("unit.m", { n: metres.toFixed(0) }) : t("unit.km", { n: (metres / 1000).toFixed(2) });
}

export function formatPoint(lat, lng) {
  return `${lat.toFixed(5)}, ${lng.toFixed(5)}`;
}
