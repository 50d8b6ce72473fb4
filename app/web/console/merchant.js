// Merchant (with an owner key, kept only in this browser): the owner's stores on the map and in
// a server-side search however many there are (stores.js), new and edited stores (storeform.js),
// store lists uploaded (upload.js), each store's offers with their claimed / redeemed / remaining
// counts, edited or ended (offeredit.js), and new offers whose fence is drawn on the map.

import { allPages, api } from "./api.js";
import { el } from "./dom.js";
import { FenceDrawer } from "./draw.js";
import { fenceLayer, formatPoint, toLatLng } from "./geo.js";
import { dateTime, t } from "./i18n.js";
import { clearMessage, showError, showOk } from "./message.js";
import { StatsView } from "./stats.js";
import { OfferEditor } from "./offeredit.js";
import { ownerKey, setOwnerKey } from "./ownerkey.js";
import { storeDetails } from "./store.js";
import { StoreForm } from "./storeform.js";
import { OwnerStores } from "./stores.js";
import { Upload } from "./upload.js";

const $ = (id) => document.getElementById(id);

export class Merchant {
  constructor(map, coord) {
    this.map = map;
    this.coord = coord;
    const key = () => this.key;
    this.list = new OwnerStores(map, coord, key, (store, pan) => this.pick(store, pan));
    this.storeLayer = this.list.layer;
    this.form = new StoreForm(map, coord, key, (store, created) => this.storeSaved(store, created));
    this.upload = new Upload(key, () => this.list.load(false));
    this.offerEditor = new OfferEditor(key, () => this.loadOffers());
    this.fenceLayer = L.layerGroup();
    this.signedIn = false;
    this.selected = null;
    this.drawer = new FenceDrawer(map, (drawer) => this.drawingChanged(drawer));
    // While the store form is open a click places the store, not a fence corner.
    this.onClick = (event) => this.form.open || this.drawer.click(event.latlng);
    $("new-store").addEventListener("click", () => this.form.create());
    $("edit-store").addEventListener("click", () => this.selected && this.form.edit(this.selected));
    $("open-upload").addEventListener("click", () => this.upload.open());
    this.stats = new StatsView(map, () => this.key, coord);
    $("store-stats").addEventListener("click", () => {
      if (this.selected) this.stats.show("merchant", this.selected.id, this.selected.name, this.selected);
    });

    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("owner-key").value.trim();
      if (!key) return;
      setOwnerKey(key);
      this.loadStores(true);
    });
    $("forget-key").addEventListener("click", () => this.forget());
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
    this.list.attach();
    this.fenceLayer.addTo(this.map);
    this.drawer.attach();
    this.map.on("click", this.onClick);
    if (this.key) {
      $("owner-key").value = this.key;
      if (!this.signedIn) this.loadStores(true);
    }
  }

  deactivate() {
    this.stats.close();
    this.list.detach();
    this.fenceLayer.remove();
    this.drawer.detach();
    this.form.close();
    this.map.off("click", this.onClick);
  }

  async coordChanged() {
    if (!this.key) return;
    const selected = this.selected?.id;
    this.drawer.clear();
    this.form.close();
    await this.loadStores(false);
    if (selected) {
      const store = await api(`/v1/merchants/${selected}`, { params: { coord: this.coord() } });
      this.select(store, false);
    }
  }

  forget() {
    setOwnerKey(null);
    $("owner-key").value = "";
    this.signedIn = false;
    this.selected = null;
    this.list.clear();
    this.form.close();
    this.upload.close();
    this.fenceLayer.clearLayers();
    this.drawer.clear();
    this.stats.close();
    $("store-detail").hidden = true;
    $("stores-summary").hidden = true;
    $("store-tools").hidden = true;
    showOk(t("merchant.key-forgotten"));
  }

  async loadStores(fit) {
    try {
      await this.list.load(fit);
    } catch (error) {
      showError(t(error.status === 401 ? "merchant.key-refused" : "merchant.stores-failed"), error);
      return;
    }
    this.signedIn = true;
    clearMessage();
  }

  // A store picked in the list (pan to it) or on the map (while no fence is being drawn: then a
  // click on a store is a corner, and the map hears it too).
  pick(store, pan) {
    if (!pan && this.drawer.kind !== "store") return;
    this.select(store, pan);
  }

  async storeSaved(store, created) {
    if (created) this.list.total += 1;
    this.list.replace(store);
    await this.select(store, created);
    await this.list.refreshMap();
  }

  async select(store, pan) {
    this.selected = store;
    this.list.select(store);
    $("store-detail").hidden = false;
    $("store-detail").dataset.id = store.id;
    $("store-name").textContent = store.name;
    $("store-details").replaceChildren(storeDetails(store));
    this.offerEditor.close();
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
        const statistics = el("button", { type: "button", className: "statistics" }, t("merchant.statistics"));
        statistics.addEventListener("click", (event) => {
          event.stopPropagation();
          this.stats.show("offer", offer.id, offer.title, store);
        });
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
          statistics,
          this.offerEditor.actions(offer),
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
