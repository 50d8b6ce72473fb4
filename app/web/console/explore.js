// Explore (no key): click the map for a nearby search there, with the offers that apply at that
// point; the viewport shows H3 cluster hexagons when zoomed out and the stores themselves when in.

import { api } from "./api.js";
import { fenceLayer, formatDistance, formatPoint, near, toLatLng, viewportBox, wrapLng } from "./geo.js";
import { clearMessage, showError } from "./message.js";

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

  // A nearby search at `latlng` (read in the current coordinate system), and the offers there.
  async search(latlng) {
    const seq = ++this.searchSeq;
    this.point = L.latLng(latlng.lat, latlng.lng);
    const lat = this.point.lat;
    const lng = wrapLng(this.point.lng);
    const params = { ...this.params(), lat, lng, limit: PAGE };
    this.drawSearchArea(params.radius);
    $("search-hint").hidden = true;
    const summary = $("search-summary");
    summary.hidden = false;
    Object.assign(summary.dataset, { lat, lng, radius: params.radius ?? "1000", coord: params.coord });
    summary.textContent = `Searching at ${formatPoint(lat, lng)} ...`;
    $("results").replaceChildren();
    $("more-results").hidden = true;
    try {
      const [stores, offers] = await Promise.all([
        api("/v1/search/nearby", { params }),
        api("/v1/offers/here", {
          params: { lat, lng, coord: params.coord, category: params.category, limit: 100 },
        }),
      ]);
      if (seq !== this.searchSeq) return;
      clearMessage();
      this.markers.clear();
      this.showStores(stores, params, true);
      this.showOffers(offers.results);
    } catch (error) {
      if (seq !== this.searchSeq) return;
      summary.textContent = `No answer for ${formatPoint(lat, lng)}.`;
      showError("Search failed", error);
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
      showError("More stores failed", error);
    }
  }

  drawSearchArea(radius) {
    this.searchLayer.clearLayers();
    this.offerLayer.clearLayers();
    const metres = Number(radius ?? 1000);
    if (Number.isFinite(metres) && metres > 0) {
      L.circle(this.point, { radius: metres, color: "#1f6feb", weight: 2, fill: false, interactive: false })
        .addTo(this.searchLayer);
    }
    L.circleMarker(this.point, { radius: 5, color: "#fff", weight: 2, fillColor: "#111", fillOpacity: 1 })
      .bindTooltip("search point")
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
        .bindTooltip(`${store.name} · ${formatDistance(store.distance_m)}`)
        .addTo(this.searchLayer);
      this.markers.set(store.id, marker);
      const item = document.createElement("li");
      item.dataset.id = store.id;
      item.dataset.distance = String(store.distance_m);
      item.innerHTML = `<span class="distance"></span><span class="name"></span><div class="meta"></div>`;
      item.querySelector(".distance").textContent = formatDistance(store.distance_m);
      item.querySelector(".name").textContent = store.name;
      item.querySelector(".meta").textContent = [store.category, store.address].filter(Boolean).join(" · ");
      item.addEventListener("mouseenter", () => marker.setStyle({ fillColor: "#d9480f" }).bringToFront());
      item.addEventListener("mouseleave", () => marker.setStyle({ fillColor: "#1f6feb" }));
      item.addEventListener("click", () => {
        this.map.panTo(marker.getLatLng());
        marker.openTooltip();
      });
      list.append(item);
    }
    this.cursor = page.next_cursor;
    $("more-results").hidden = !this.cursor;
    const shown = list.children.length;
    const radius = params.radius ?? "1000";
    $("search-summary").textContent =
      `${shown}${this.cursor ? "+" : ""} store${shown === 1 ? "" : "s"} within ${radius} m of ` +
      `${formatPoint(Number(params.lat), Number(params.lng))} (${params.coord.toUpperCase()})`;
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
      fence.bindTooltip(`${offer.title} · ${offer.merchant.name}`);
      const item = document.createElement("li");
      item.dataset.id = offer.id;
      item.innerHTML =
        `<span class="distance"></span><span class="name"></span><div class="meta"></div>` +
        `<div class="meta counts"></div>`;
      item.querySelector(".distance").textContent = formatDistance(offer.distance_m);
      item.querySelector(".name").textContent = offer.title;
      item.querySelector(".meta").textContent = `at ${offer.merchant.name}`;
      item.querySelector(".counts").textContent =
        offer.remaining === null ? "unlimited" : `${offer.remaining} left`;
      item.addEventListener("click", () => this.map.fitBounds(fence.getBounds(), { maxZoom: 17 }));
      list.append(item);
    }
  }

  updateCategories() {
    const options = [...this.categories].sort().map((name) => {
      const option = document.createElement("option");
      option.value = name;
      return option;
    });
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
      if (seq === this.viewSeq) showError("The map view could not be loaded", error);
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
        .bindTooltip(`${cluster.count} store${cluster.count === 1 ? "" : "s"} in cell ${cluster.h3}`)
        .addTo(this.viewport);
      L.marker(toLatLng(cluster, reference), {
        interactive: false,
        icon: L.divIcon({ className: "cluster-label", html: String(cluster.count), iconSize: [40, 16] }),
      }).addTo(this.viewport);
    }
    this.viewport.options.kind = "clusters";
    this.viewportNote(
      `${body.clusters.length} H3 cells at resolution ${body.resolution}` +
        (body.truncated ? " (the most populous)" : "") + `; zoom to ${STORE_ZOOM} for stores`,
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
        .bindTooltip(`${store.name} (${store.category})`)
        .addTo(this.viewport);
    }
    this.updateCategories();
    this.viewportNote(
      `${body.results.length} stores in view` + (body.truncated ? ", the nearest the centre" : ""),
    );
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
