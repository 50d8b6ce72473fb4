// Drawing an offer's fence on the map: a circle (click the centre, then a point on its edge) or a
// polygon (click its corners; finish with the button or by clicking the first corner again).

import { t } from "./i18n.js";

const CLOSE_PX = 12; // a click this near the first corner closes the polygon

export class FenceDrawer {
  constructor(map, onChange) {
    this.map = map;
    this.onChange = onChange; // (drawer) => void, after every change
    this.layer = L.layerGroup();
    this.kind = "store";
    this.clear();
  }

  attach() {
    this.layer.addTo(this.map);
  }

  detach() {
    this.layer.remove();
  }

  setKind(kind) {
    this.kind = kind;
    this.clear();
  }

  clear() {
    this.centre = null;
    this.radius = 300;
    this.corners = [];
    this.closed = false;
    this.redraw();
  }

  // A map click while drawing; returns true when the click was used.
  click(latlng) {
    if (this.kind === "circle") {
      if (!this.centre) this.centre = latlng;
      else this.radius = Math.max(10, Math.round(this.map.distance(this.centre, latlng)));
    } else if (this.kind === "polygon" && !this.closed) {
      const first = this.corners[0];
      if (first && this.corners.length >= 3 && this.pixels(first, latlng) <= CLOSE_PX) this.closed = true;
      else this.corners.push(latlng);
    } else {
      return false;
    }
    this.redraw();
    return true;
  }

  finish() {
    if (this.kind === "polygon" && this.corners.length >= 3) this.closed = true;
    this.redraw();
  }

  setRadius(metres) {
    if (Number.isFinite(metres) && metres > 0) this.radius = metres;
    this.redraw();
  }

  pixels(a, b) {
    return this.map.latLngToContainerPoint(a).distanceTo(this.map.latLngToContainerPoint(b));
  }

  // What the form sends: null (the 500 m default round the store), or the drawn fence, or
  // undefined while a drawing is unfinished.
  geofence() {
    if (this.kind === "store") return null;
    if (this.kind === "circle") {
      if (!this.centre) return undefined;
      return { type: "circle", center: { lat: this.centre.lat, lng: this.centre.lng }, radius_m: this.radius };
    }
    if (!this.closed) return undefined;
    const ring = this.corners.map((p) => [p.lng, p.lat]);
    return { type: "Polygon", coordinates: [[...ring, ring[0]]] };
  }

  hint() {
    if (this.kind === "circle") {
      return this.centre
        ? t("draw.circle-radius")
        : t("draw.circle-centre");
    }
    if (this.kind === "polygon") {
      if (this.closed) return t("draw.polygon-closed", { n: this.corners.length });
      return this.corners.length < 3
        ? t("draw.polygon-corners", { n: this.corners.length })
        : t("draw.polygon-close", { n: this.corners.length });
    }
    return "";
  }

  redraw() {
    this.layer.clearLayers();
    const style = { color: "#d9480f", weight: 2, fillOpacity: 0.12, interactive: false };
    if (this.kind === "circle" && this.centre) {
      L.circle(this.centre, { ...style, radius: this.radius }).addTo(this.layer);
      L.circleMarker(this.centre, { radius: 4, color: "#d9480f", fillOpacity: 1, interactive: false }).addTo(this.layer);
    }
    if (this.kind === "polygon" && this.corners.length) {
      const shape = this.closed ? L.polygon(this.corners, style) : L.polyline(this.corners, style);
      shape.addTo(this.layer);
      for (const corner of this.corners) {
        L.circleMarker(corner, { radius: 4, color: "#d9480f", fillOpacity: 1, interactive: false }).addTo(this.layer);
      }
    }
    this.onChange?.(this);
  }
}
