// Explore (no key): click the map for a nearby search there, with the offers that apply at that
// point (one call: include=offers); the viewport shows H3 cluster hexagons when zoomed out and
// the stores themselves when in.

import { api } from "./api.js";
import { fenceLayer, formatDistance, formatPoint, near, toLatLng, viewportBox, wrapLng } from "./geo.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";
import { clearMessage, showError } from "./message.js";
import { storeCard } from "./store.js";

const STORE_ZOOM = 17; // from this zoom on the viewport shows stores (up to 100), below it clusters
const PAGE = 50;

const $ = (id) => document.getElementById(id);

export class Explore {
  constructor(map, coord) {
    this.map = map;
    this.coord = coord; // () => "wgs84" | "gcj02"
    this.viewport = L.layerGroup();
    this.searchLayer = L.layerGroup();
    this.offerLayer = L.layerGroup();
    this.markers = new Map(); // merchant id -> circle marker of the search results
    this.categories = new Set();
    this.point = null; // the last search point, in the frame of this.coord()
    this.cursor = null;
    this.searchSeq = 0;
    this.viewSeq = 0;
    this.onClick = (event) => this.search(event.latlng);
    this.onMove = () => this.refreshViewport();
    $("more-results").addEventListener("click", () => this.more());
    $("search-form").addEventListener("change", () => this.point && this.search(this.point));
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.point) this.search(this.point);
    });
  }

  activate() {
    for (const layer of [this.viewport, this.offerLayer, this.searchLayer]) layer.addTo(this.map);
    this.map.on("click", this.onClick);
    this.map.on("moveend", this.onMove);
    this.refreshViewport();
  }

  deactivate() {
    for (const layer of [this.viewport, this.offerLayer, this.searchLayer]) layer.remove();
    this.note?.remove();
    this.map.closePopup();
    this.map.off("click", this.onClick);
    this.map.off("moveend", this.onMove);
  }

  coordChanged() {
    this.refreshViewport();
    if (this.point) this.search(this.point);
  }

  params() {
    const radius = $("radius").value.trim();
    return {
      radius: radius === "" ? undefined : radius,
      category: $("category")
        .value.split(",")
        .map((c) => c.trim())
        .filter(Boolean),
      q: $("keyword").value.trim(),
      open_now: $("open-now").checked ? "true" : undefined,
      coord: this.coord(),
    };
  }

  // A nearby search at `latlng` (read in the current coordinate system) with the offers there,
  // in one call; with radius "auto" the service picks the radius and says which (radius_m).
  async search(latlng) {
    const seq = ++this.searchSeq;
    this.point = L.latLng(latlng.lat, latlng.lng);
    const lat = this.point.lat;
    const lng = wrapLng(this.point.lng);
    const params = { ...this.params(), lat, lng, limit: PAGE };
    this.drawSearchArea();
    $("search-hint").hidden = true;
    const summary = $("search-summary");
    summary.hidden = false;
    Object.assign(summary.dataset, { lat, lng, radius: params.radius ?? "1000", coord: params.coord });
    summary.textContent = t("explore.searching", { point: formatPoint(lat, lng) });
    $("results").replaceChildren();
    $("more-results").hidden = true;
    try {
      const stores = await api("/v1/search/nearby", { params: { ...params, include: "offers" } });
      if (seq !== this.searchSeq) return;
      clearMessage();
      this.markers.clear();
      this.drawRadius(stores.radius_m);
      this.showStores(stores, params, true);
      this.showOffers(stores.offers_here);
    } catch (error) {
      if (seq !== this.searchSeq) return;
      summary.textContent = t("explore.no-answer", { point: formatPoint(lat, lng) });
      showError(t("explore.search-failed"), error);
    }
  }

  async more() {
    if (!this.cursor) return;
    const seq = this.searchSeq;
    try {
      const { lat, lng } = $("search-summary").dataset;
      const params = { ...this.params(), lat, lng, limit: PAGE, cursor: this.cursor };
      const stores = await api("/v1/search/nearby", { params });
      if (seq === this.searchSeq) this.showStores(stores, params, false);
    } catch (error) {
      showError(t("explore.more-failed"), error);
    }
  }

  drawSearchArea() {
    this.searchLayer.clearLayers();
    this.offerLayer.clearLayers();
    L.circleMarker(this.point, { radius: 5, color: "#fff", weight: 2, fillColor: "#111", fillOpacity: 1 })
      .bindTooltip(el("span", {}, t("explore.search-point")))
      .addTo(this.searchLayer);
  }

  drawRadius(metres) {
    L.circle(this.point, { radius: metres, color: "#1f6feb", weight: 2, fill: false, interactive: false })
      .addTo(this.searchLayer);
  }

  showStores(page, params, first) {
    const list = $("results");
    const reference = this.point.lng;
    for (const store of page.results) {
      this.categories.add(store.category);
      const marker = L.circleMarker(toLatLng(store.location, reference), {
        radius: 6, color: "#fff", weight: 1.5, fillColor: "#1f6feb", fillOpacity: 0.95,
      })
        .bindTooltip(el("span", {}, `${store.name} · ${formatDistance(store.distance_m)}`))
        .addTo(this.searchLayer);
      this.markers.set(store.id, marker);
      const item = el(
        "li",
        { dataset: { id: store.id, distance: String(store.distance_m) } },
        el("span", { className: "distance" }, formatDistance(store.distance_m)),
        el("span", { className: "name" }, store.name),
        el("div", { className: "meta" }, [store.category, store.address].filter(Boolean).join(" · ")),
      );
      item.addEventListener("mouseenter", () => marker.setStyle({ fillColor: "#d9480f" }).bringToFront());
      item.addEventListener("mouseleave", () => marker.setStyle({ fillColor: "#1f6feb" }));
      item.addEventListener("click", () => {
        this.map.panTo(marker.getLatLng());
        L.popup({ maxWidth: 320 })
          .setLatLng(marker.getLatLng())
          .setContent(storeCard(store, formatDistance(store.distance_m)))
          .openOn(this.map);
      });
      list.append(item);
    }
    this.cursor = page.next_cursor;
    $("more-results").hidden = !this.cursor;
    const shown = list.children.length;
    $("search-summary").textContent = t("explore.summary", {
      count: shown,
      more: Boolean(this.cursor),
      radius: String(page.radius_m),
      auto: params.radius === "auto",
      point: formatPoint(Number(params.lat), Number(params.lng)),
      coord: params.coord.toUpperCase(),
    });
    if (first) this.updateCategories();
  }

  showOffers(offers) {
    const list = $("offers-here");
    list.replaceChildren();
    $("no-offers").hidden = offers.length > 0;
    const reference = this.point.lng;
    for (const offer of offers) {
      const fence = fenceLayer(offer.geofence, reference, {
        color: "#d9480f", weight: 1.5, dashArray: "6 4", fillOpacity: 0.07,
      }).addTo(this.offerLayer);
      fence.bindTooltip(el("span", {}, `${offer.title} · ${offer.merchant.name}`));
      const item = el(
        "li",
        { dataset: { id: offer.id } },
        el("span", { className: "distance" }, formatDistance(offer.distance_m)),
        el("span", { className: "name" }, offer.title),
        el("div", { className: "meta description" }, offer.description),
        el("div", { className: "meta" }, t("explore.at-store", { name: offer.merchant.name })),
        el("div", { className: "meta counts" }, remaining(offer)),
      );
      item.addEventListener("click", () => this.map.fitBounds(fence.getBounds(), { maxZoom: 17 }));
      list.append(item);
    }
  }

  updateCategories() {
    const options = [...this.categories].sort().map((name) => el("option", { value: name }));
    $("categories").replaceChildren(...options);
  }

  // Clusters as hexagons when zoomed out, the stores in view when zoomed in.
  async refreshViewport() {
    const seq = ++this.viewSeq;
    const zoom = this.map.getZoom();
    const box = viewportBox(this.map.getBounds());
    const coord = this.coord();
    const category = this.params().category;
    try {
      if (zoom < STORE_ZOOM) {
        const body = await api("/v1/search/clusters", {
          params: { ...box, coord, category, boundaries: "true" },
        });
        if (seq === this.viewSeq) this.drawClusters(body);
      } else {
        const body = await api("/v1/search/bbox", { params: { ...box, coord, category, limit: 100 } });
        if (seq === this.viewSeq) this.drawStores(body);
      }
    } catch (error) {
      if (seq === this.viewSeq) showError(t("explore.view-failed"), error);
    }
  }

  drawClusters(body) {
    this.viewport.clearLayers();
    const reference = this.map.getCenter().lng;
    const largest = Math.max(1, ...body.clusters.map((c) => c.count));
    for (const cluster of body.clusters) {
      const ring = cluster.boundary.map(([lng, lat]) => L.latLng(lat, near(lng, reference)));
      const strength = 0.15 + 0.55 * Math.sqrt(cluster.count / largest);
      L.polygon(ring, {
        color: "#0b3a75", weight: 1, fillColor: "#1f6feb", fillOpacity: strength, className: "cluster",
      })
        .bindTooltip(el("span", {}, t("explore.cell", { n: cluster.count, h3: cluster.h3 })))
        .addTo(this.viewport);
      const label = el("span", {}, String(cluster.count));
      L.marker(toLatLng(cluster, reference), {
        interactive: false,
        icon: L.divIcon({ className: "cluster-label", html: label, iconSize: [40, 16] }),
      }).addTo(this.viewport);
    }
    this.viewport.options.kind = "clusters";
    this.viewportNote(
      t("explore.cells", {
        n: body.clusters.length, resolution: body.resolution, truncated: body.truncated, zoom: STORE_ZOOM,
      }),
    );
  }

  drawStores(body) {
    this.viewport.clearLayers();
    const reference = this.map.getCenter().lng;
    for (const store of body.results) {
      this.categories.add(store.category);
      L.circleMarker(toLatLng(store.location, reference), {
        radius: 4, color: "#555", weight: 1, fillColor: "#9aa5b1", fillOpacity: 0.9,
      })
        .bindTooltip(el("span", {}, `${store.name} (${store.category})`))
        .addTo(this.viewport);
    }
    this.updateCategories();
    this.viewportNote(t("explore.in-view", { n: body.results.length, truncated: body.truncated }));
  }

  viewportNote(text) {
    if (!this.note) {
      this.note = L.control({ position: "bottomleft" });
      this.note.onAdd = () => L.DomUtil.create("div", "map-note");
    }
    if (!this.note.getContainer()) this.note.addTo(this.map);
    this.note.getContainer().textContent = text;
    this.note.getContainer().id = "viewport-note";
  }
}

const remaining = (offer) => (offer.remaining === null ? t("unlimited") : t("explore.left", { n: offer.remaining }));
