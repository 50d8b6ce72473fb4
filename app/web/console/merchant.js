// Merchant (with an owner key, kept only in this browser): the owner's stores on the map, each
// store's offers with their claimed / redeemed / remaining counts, and new offers whose fence is
// drawn on the map.

import { allPages, api } from "./api.js";
import { el } from "./dom.js";
import { FenceDrawer } from "./draw.js";
import { fenceLayer, formatPoint, toLatLng } from "./geo.js";
import { dateTime, t } from "./i18n.js";
import { clearMessage, showError, showOk } from "./message.js";
import { ownerKey, setOwnerKey } from "./ownerkey.js";
import { storeDetails } from "./store.js";

const $ = (id) => document.getElementById(id);

export class Merchant {
  constructor(map, coord) {
    this.map = map;
    this.coord = coord;
    this.storeLayer = L.layerGroup();
    this.fenceLayer = L.layerGroup();
    this.stores = [];
    this.markers = new Map();
    this.selected = null;
    this.drawer = new FenceDrawer(map, (drawer) => this.drawingChanged(drawer));
    this.onClick = (event) => this.drawer.click(event.latlng);

    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("owner-key").value.trim();
      if (!key) return;
      setOwnerKey(key);
      this.loadStores(true);
    });
    $("forget-key").addEventListener("click", () => this.forget());
    $("store-filter").addEventListener("input", () => this.renderStoreList());
    for (const radio of document.querySelectorAll('input[name="fence"]')) {
      radio.addEventListener("change", () => this.drawer.setKind(radio.value));
    }
    $("finish-polygon").addEventListener("click", () => this.drawer.finish());
    $("clear-fence").addEventListener("click", () => this.drawer.clear());
    $("circle-radius").addEventListener("input", () => this.drawer.setRadius(Number($("circle-radius").value)));
    $("offer-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveOffer();
    });
  }

  get key() {
    return ownerKey();
  }

  activate() {
    this.storeLayer.addTo(this.map);
    this.fenceLayer.addTo(this.map);
    this.drawer.attach();
    this.map.on("click", this.onClick);
    if (this.key) {
      $("owner-key").value = this.key;
      if (!this.stores.length) this.loadStores(true);
    }
  }

  deactivate() {
    this.storeLayer.remove();
    this.fenceLayer.remove();
    this.drawer.detach();
    this.map.off("click", this.onClick);
  }

  coordChanged() {
    if (!this.key) return;
    const selected = this.selected?.id;
    this.drawer.clear();
    this.loadStores(false).then(() => {
      const store = this.stores.find((s) => s.id === selected);
      if (store) this.select(store, false);
    });
  }

  forget() {
    setOwnerKey(null);
    $("owner-key").value = "";
    this.stores = [];
    this.selected = null;
    this.storeLayer.clearLayers();
    this.fenceLayer.clearLayers();
    this.drawer.clear();
    this.renderStoreList();
    $("store-detail").hidden = true;
    $("stores-summary").hidden = true;
    showOk(t("merchant.key-forgotten"));
  }

  async loadStores(fit) {
    const coord = this.coord();
    let page;
    try {
      page = await allPages("/v1/merchants", { key: this.key, params: { limit: 100, coord } });
    } catch (error) {
      showError(t(error.status === 401 ? "merchant.key-refused" : "merchant.stores-failed"), error);
      return;
    }
    clearMessage();
    this.stores = page.results;
    this.storeLayer.clearLayers();
    this.markers.clear();
    const reference = this.map.getCenter().lng;
    for (const store of this.stores) {
      const marker = L.circleMarker(toLatLng(store.location, reference), {
        radius: 5, color: "#fff", weight: 1.5, fillColor: "#2b8a3e", fillOpacity: 0.95,
      })
        .bindTooltip(el("span", {}, store.name))
        // While a fence is being drawn a click on a store is a corner (the map hears it too).
        .on("click", () => this.drawer.kind === "store" && this.select(store, false))
        .addTo(this.storeLayer);
      this.markers.set(store.id, marker);
    }
    const summary = $("stores-summary");
    summary.hidden = false;
    summary.textContent = t("merchant.stores-summary", { n: this.stores.length, complete: page.complete });
    $("store-filter-label").hidden = this.stores.length < 10;
    this.renderStoreList();
    if (fit && this.stores.length) {
      this.map.fitBounds(L.featureGroup([...this.markers.values()]).getBounds(), { maxZoom: 16, padding: [20, 20] });
    }
  }

  renderStoreList() {
    const filter = $("store-filter").value.trim().toLowerCase();
    const shown = this.stores.filter((s) => !filter || s.name.toLowerCase().includes(filter)).slice(0, 200);
    $("stores").replaceChildren(
      ...shown.map((store) => {
        const item = el(
          "li",
          { dataset: { id: store.id } },
          el("span", { className: "name" }, store.name),
          el("div", { className: "meta" }, [store.category, store.address].filter(Boolean).join(" · ")),
        );
        item.classList.toggle("selected", store.id === this.selected?.id);
        item.addEventListener("click", () => this.select(store, true));
        return item;
      }),
    );
  }

  async select(store, pan) {
    this.selected = store;
    for (const [id, marker] of this.markers) {
      marker.setStyle({ fillColor: id === store.id ? "#d9480f" : "#2b8a3e", radius: id === store.id ? 8 : 5 });
    }
    this.renderStoreList();
    $("store-detail").hidden = false;
    $("store-name").textContent = store.name;
    $("store-details").replaceChildren(storeDetails(store));
    if (pan) this.map.setView(toLatLng(store.location, this.map.getCenter().lng), Math.max(this.map.getZoom(), 15));
    this.drawer.setKind(document.querySelector('input[name="fence"]:checked').value);
    await this.loadOffers();
  }

  async loadOffers() {
    const store = this.selected;
    if (!store) return;
    let page;
    try {
      page = await allPages(`/v1/merchants/${store.id}/offers`, {
        key: this.key,
        params: { limit: 100, coord: this.coord() },
      });
    } catch (error) {
      showError(t("merchant.offers-failed"), error);
      return;
    }
    if (store !== this.selected) return;
    this.fenceLayer.clearLayers();
    const reference = this.map.getCenter().lng;
    $("no-store-offers").hidden = page.results.length > 0;
    $("offers").replaceChildren(
      ...page.results.map((offer) => {
        const fence = fenceLayer(offer.geofence, reference, {
          color: "#d9480f", weight: 1.5, dashArray: "6 4", fillOpacity: 0.06, interactive: false,
        }).addTo(this.fenceLayer);
        const remove = el("button", { type: "button", className: "delete" }, t("merchant.delete"));
        remove.addEventListener("click", (event) => {
          event.stopPropagation();
          this.deleteOffer(offer);
        });
        const item = el(
          "li",
          { dataset: { id: offer.id } },
          el("span", { className: "distance" }, t(`status.${offer.status}`)),
          el("span", { className: "name" }, offer.title),
          el("div", { className: "meta description" }, offer.description),
          el("div", { className: "meta window" }, describeWindow(offer)),
          el("div", { className: "meta counts" }, describeCounts(offer)),
          remove,
        );
        item.addEventListener("click", () => this.map.fitBounds(fence.getBounds(), { maxZoom: 17 }));
        return item;
      }),
    );
  }

  async deleteOffer(offer) {
    if (!window.confirm(t("merchant.confirm-delete", { title: offer.title, n: offer.claimed }))) return;
    try {
      await api(`/v1/offers/${offer.id}`, { method: "DELETE", key: this.key });
      showOk(t("merchant.deleted", { title: offer.title }));
    } catch (error) {
      showError(t("merchant.delete-failed"), error);
    }
    await this.loadOffers();
  }

  drawingChanged(drawer) {
    const kind = drawer.kind;
    const hint = drawer.hint();
    $("draw-hint").hidden = !hint;
    $("draw-hint").textContent = hint;
    $("circle-radius-label").hidden = kind !== "circle";
    if (kind === "circle" && document.activeElement !== $("circle-radius")) {
      $("circle-radius").value = String(drawer.radius);
    }
    $("draw-buttons").hidden = kind === "store";
    $("finish-polygon").hidden = kind !== "polygon";
  }

  async saveOffer() {
    const store = this.selected;
    const geofence = this.drawer.geofence();
    if (geofence === undefined) {
      showError(t("merchant.fence-unfinished"), this.drawer.hint());
      return;
    }
    const number = (id) => ($(id).value.trim() === "" ? null : Number($(id).value));
    const instant = (id) => ($(id).value ? new Date($(id).value).toISOString() : undefined);
    const body = {
      title: $("offer-title").value.trim(),
      description: $("offer-description").value.trim() || null,
      geofence,
      coord: this.coord(),
      starts_at: instant("offer-starts"),
      ends_at: instant("offer-ends"),
      quantity: number("offer-quantity"),
      per_user_limit: number("offer-per-user"),
    };
    try {
      const offer = await api(`/v1/merchants/${store.id}/offers`, { method: "POST", key: this.key, body });
      const where = geofence === null ? t("merchant.fence-store") : describeFence(geofence);
      showOk(t("merchant.saved", { title: offer.title, where }));
      $("offer-title").value = "";
      $("offer-description").value = "";
      this.drawer.clear();
    } catch (error) {
      showError(t("merchant.not-saved"), error);
      return;
    }
    await this.loadOffers();
  }
}

function describeWindow(offer) {
  return `${dateTime(offer.starts_at)} → ${offer.ends_at ? dateTime(offer.ends_at) : t("merchant.no-end")}` +
    (offer.quantity === null ? "" : ` · ${t("merchant.codes", { n: offer.quantity })}`) +
    (offer.per_user_limit === null ? "" : ` · ${t("merchant.per-user-count", { n: offer.per_user_limit })}`);
}

function describeCounts(offer) {
  const remaining = offer.remaining === null ? t("unlimited") : offer.remaining;
  return t("merchant.counts", { claimed: offer.claimed, redeemed: offer.redeemed, remaining });
}

function describeFence(geofence) {
  if (geofence.type === "circle") {
    const point = formatPoint(geofence.center.lat, geofence.center.lng);
    return t("merchant.circle-at", { radius: geofence.radius_m, point });
  }
  return t("merchant.polygon-of", { n: geofence.coordinates[0].length - 1 });
}
