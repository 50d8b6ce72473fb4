// An owner's stores at chain scale, on the public API only: however many there are, nothing
// loads them all. The list is a server-side search (GET /v1/merchants?q= for names,
// ?external_id= for a store number) a page at a time; the map asks for the viewport
// (GET /v1/search/bbox?owner_id=) and shows the stores themselves when they are few enough,
// else H3 clusters of them (GET /v1/search/clusters?owner_id=). The owner's total comes from
// the clusters of the whole world.

import { api } from "./api.js";
import { el } from "./dom.js";
import { toLatLng, viewportBox } from "./geo.js";
import { t } from "./i18n.js";

const PAGE = 50;
const MAP_STORES = 100; // a viewport with more of the owner's stores than this shows clusters,
const STORE_ZOOM = 16; // but from this zoom on the MAP_STORES nearest its centre
const WORLD = { min_lat: -90, min_lng: -180, max_lat: 90, max_lng: 180 };
const $ = (id) => document.getElementById(id);

export class OwnerStores {
  // onPick(store, pan): a store was picked in the list or on the map.
  constructor(map, coord, key, onPick) {
    this.map = map;
    this.coord = coord;
    this.key = key;
    this.onPick = onPick;
    this.layer = L.layerGroup(); // the viewport's stores or clusters
    this.markers = new Map(); // id -> marker of the stores in the viewport
    this.ownerId = null;
    this.total = 0;
    this.results = [];
    this.cursor = null;
    this.selected = null;
    this.selectedId = null;
    this.listSeq = 0;
    this.viewSeq = 0;
    this.onMove = () => this.refreshMap();
    let typing = null;
    $("store-filter").addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => this.search(), 250);
    });
    $("store-search").addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(typing);
      this.search();
    });
    $("more-stores").addEventListener("click", () => this.more());
  }

  attach() {
    this.layer.addTo(this.map);
    this.map.on("moveend", this.onMove);
  }

  detach() {
    this.layer.remove();
    this.map.off("moveend", this.onMove);
  }

  clear() {
    this.ownerId = null;
    this.results = [];
    this.layer.clearLayers();
    this.markers.clear();
    $("stores").replaceChildren();
    delete $("stores").dataset.query;
  }

  // Who the key belongs to, how many stores it has, and the first page: after a key is given.
  // Throws the API's error (a key that is not accepted).
  async load(fit) {
    const first = await api("/v1/merchants", { key: this.key(), params: { limit: 1 } });
    this.ownerId = first.results[0]?.owner_id ?? null;
    const world = this.ownerId ? await this.clusters({ ...WORLD, resolution: 2 }) : [];
    this.total = world.reduce((sum, cell) => sum + cell.count, 0);
    await this.search();
    if (fit && world.length) {
      const bounds = L.latLngBounds(world.map((c) => L.latLng(c.lat, c.lng)));
      this.map.fitBounds(bounds, { maxZoom: 16, padding: [30, 30], animate: false });
    }
    await this.refreshMap();
  }

  async clusters(box) {
    const params = { ...box, owner_id: this.ownerId, coord: this.coord(), limit: 10000 };
    return (await api("/v1/search/clusters", { params })).clusters;
  }

  // The first page of what the search box asks for (everything when it is empty).
  async search() {
    this.cursor = null;
    this.results = [];
    await this.page();
  }

  async more() {
    if (this.cursor) await this.page();
  }

  async page() {
    const seq = ++this.listSeq;
    const text = $("store-filter").value.trim();
    const params = { limit: PAGE, coord: this.coord(), cursor: this.cursor ?? undefined };
    const calls = [api("/v1/merchants", { key: this.key(), params: { ...params, q: text || undefined } })];
    // A store number is matched exactly, on the first page only, ahead of the name matches.
    if (text && !this.cursor) {
      calls.push(api("/v1/merchants", { key: this.key(), params: { limit: 1, coord: this.coord(), external_id: text } }));
    }
    const [byName, byNumber] = await Promise.all(calls);
    if (seq !== this.listSeq) return; // a later search has begun
    const seen = new Set(this.results.map((s) => s.id));
    const found = [...(byNumber?.results ?? []), ...byName.results].filter((s) => !seen.has(s.id) && seen.add(s.id));
    this.results.push(...found);
    this.cursor = byName.next_cursor;
    this.renderList();
    $("stores").dataset.query = text; // which search the list shows, for whoever waits on it
  }

  renderList() {
    const summary = $("stores-summary");
    summary.hidden = false;
    summary.textContent = t("merchant.stores-summary", { n: this.total, complete: true });
    $("store-tools").hidden = false;
    $("more-stores").hidden = !this.cursor;
    $("no-stores").hidden = this.results.length > 0;
    $("stores").replaceChildren(
      ...this.results.map((store) => {
        const item = el(
          "li",
          { dataset: { id: store.id } },
          el("span", { className: "name" }, store.name),
          el("div", { className: "meta" }, [store.external_id, store.category, store.address].filter(Boolean).join(" · ")),
        );
        item.classList.toggle("selected", store.id === this.selectedId);
        item.addEventListener("click", () => this.onPick(store, true));
        return item;
      }),
    );
  }

  select(store) {
    this.selected = store ?? null;
    this.selectedId = store?.id ?? null;
    for (const item of $("stores").children) item.classList.toggle("selected", item.dataset.id === this.selectedId);
    for (const [id, marker] of this.markers) {
      marker.setStyle({ fillColor: id === this.selectedId ? "#d9480f" : "#2b8a3e", radius: id === this.selectedId ? 8 : 5 });
    }
  }

  // A store that changed (saved in the form): the list shows it as it is now.
  replace(store) {
    const index = this.results.findIndex((s) => s.id === store.id);
    if (index >= 0) this.results[index] = store;
    else this.results.unshift(store);
    this.renderList();
  }

  // The viewport: the owner's stores when there are few enough, else their clusters.
  async refreshMap() {
    if (!this.ownerId) return;
    const seq = ++this.viewSeq;
    const box = viewportBox(this.map.getBounds());
    const params = { ...box, owner_id: this.ownerId, coord: this.coord(), limit: MAP_STORES };
    const page = await api("/v1/search/bbox", { params });
    if (seq !== this.viewSeq) return;
    if (!page.truncated || this.map.getZoom() >= STORE_ZOOM) {
      this.showStores(page.results);
      return;
    }
    const cells = await this.clusters(box);
    if (seq !== this.viewSeq) return;
    this.showClusters(cells);
  }

  showStores(found) {
    this.layer.clearLayers();
    this.markers.clear();
    const reference = this.map.getCenter().lng;
    // The picked store is always drawn (it may not be among the nearest to the centre).
    const picked = this.selected && !found.some((s) => s.id === this.selected.id) ? [this.selected] : [];
    for (const store of [...found, ...picked]) {
      const selected = store.id === this.selectedId;
      const marker = L.circleMarker(toLatLng(store.location, reference), {
        radius: selected ? 8 : 5, color: "#fff", weight: 1.5, fillColor: selected ? "#d9480f" : "#2b8a3e", fillOpacity: 0.95,
      })
        .bindTooltip(el("span", {}, store.name))
        .on("click", () => this.onPick(store, false))
        .addTo(this.layer);
      this.markers.set(store.id, marker);
    }
  }

  showClusters(cells) {
    this.layer.clearLayers();
    this.markers.clear();
    const reference = this.map.getCenter().lng;
    const largest = Math.max(1, ...cells.map((c) => c.count));
    for (const cell of cells) {
      const at = toLatLng({ lat: cell.lat, lng: cell.lng }, reference);
      L.circleMarker(at, {
        radius: 8 + 14 * Math.sqrt(cell.count / largest), color: "#2b8a3e", weight: 1, fillColor: "#2b8a3e", fillOpacity: 0.35,
        className: "store-cluster",
      })
        .bindTooltip(el("span", {}, t("stores.cluster", { n: cell.count })))
        .on("click", () => this.map.setView(at, Math.min(this.map.getZoom() + 2, 18)))
        .addTo(this.layer);
    }
  }
}
