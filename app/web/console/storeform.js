// Create and edit a store (POST /v1/merchants, PATCH /v1/merchants/{id}): its name, number,
// category, address, phone, tags, opening hours, time zone and position. The position is typed,
// or a click on the map while the form is open, or the store's marker dragged; the marker and the
// two fields follow each other. Coordinates are in the console's system (the `coord` switch).

import { api } from "./api.js";
import { formatPoint } from "./geo.js";
import { onLanguageChange, t } from "./i18n.js";
import { showError, showOk } from "./message.js";

const $ = (id) => document.getElementById(id);
const FIELDS = {
  name: "sf-name",
  external_id: "sf-external-id",
  category: "sf-category",
  address: "sf-address",
  phone: "sf-phone",
  opening_hours: "sf-hours",
  timezone: "sf-timezone",
};

export class StoreForm {
  // onSaved(store, created): the store as the API answered.
  constructor(map, coord, key, onSaved) {
    this.map = map;
    this.coord = coord;
    this.key = key;
    this.onSaved = onSaved;
    this.editing = null; // the store being edited, null for a new one
    this.marker = null;
    this.onClick = (event) => this.place(event.latlng.lat, event.latlng.lng);
    $("store-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    $("cancel-store").addEventListener("click", () => this.close());
    for (const id of ["sf-lat", "sf-lng"]) $(id).addEventListener("change", () => this.typed());
    onLanguageChange(() => this.label());
  }

  get open() {
    return !$("store-form").hidden;
  }

  // A new store: typed, or placed by a click on the map.
  create() {
    this.show(null);
    this.label();
    for (const id of [...Object.values(FIELDS), "sf-tags", "sf-lat", "sf-lng"]) $(id).value = "";
  }

  edit(store) {
    this.show(store);
    this.label();
    for (const [field, id] of Object.entries(FIELDS)) $(id).value = store[field] ?? "";
    $("sf-tags").value = (store.tags ?? []).join("; ");
    this.place(store.location.lat, store.location.lng);
  }

  // The form's heading and hint, in the page's language: a new store, or the one being edited.
  label() {
    const store = this.editing;
    $("store-form-title").textContent = store ? t("storeform.edit", { name: store.name }) : t("storeform.new");
    $("store-form-hint").textContent = t(store ? "storeform.edit-hint" : "storeform.new-hint");
    this.marker?.getElement()?.setAttribute("title", t("storeform.position"));
  }

  show(store) {
    this.close();
    this.editing = store;
    $("store-form").hidden = false;
    this.map.on("click", this.onClick);
    $("sf-name").focus();
  }

  close() {
    $("store-form").hidden = true;
    this.map.off("click", this.onClick);
    this.marker?.remove();
    this.marker = null;
    this.editing = null;
  }

  // The store's position, in the console's system: the marker and the fields agree.
  place(lat, lng) {
    $("sf-lat").value = lat.toFixed(6);
    $("sf-lng").value = lng.toFixed(6);
    if (!this.marker) {
      const icon = L.divIcon({ className: "store-pin", iconSize: [18, 18] }); // no image to fetch
      this.marker = L.marker([lat, lng], { icon, draggable: true, title: t("storeform.position"), keyboard: false })
        .on("dragend", () => {
          const at = this.marker.getLatLng();
          this.place(at.lat, L.Util.wrapNum(at.lng, [-180, 180], true));
        })
        .addTo(this.map);
    } else {
      this.marker.setLatLng([lat, lng]);
    }
  }

  typed() {
    const lat = Number($("sf-lat").value);
    const lng = Number($("sf-lng").value);
    if ($("sf-lat").value.trim() && $("sf-lng").value.trim() && Number.isFinite(lat) && Number.isFinite(lng)) {
      this.place(lat, lng);
      this.map.panTo([lat, lng]);
    }
  }

  body() {
    const text = (id) => $(id).value.trim();
    const optional = (id) => text(id) || null;
    const number = (id) => (text(id) === "" ? NaN : Number(text(id)));
    const body = {
      name: text("sf-name"),
      category: text("sf-category"),
      external_id: optional("sf-external-id"),
      address: optional("sf-address"),
      phone: optional("sf-phone"),
      opening_hours: optional("sf-hours"),
      tags: text("sf-tags").split(/[;,]/).map((t) => t.trim()).filter(Boolean),
      location: { lat: number("sf-lat"), lng: number("sf-lng") },
      coord: this.coord(),
    };
    // No zone: a new store gets the one of its position, an edit keeps the store's.
    const timezone = optional("sf-timezone");
    if (timezone) body.timezone = timezone;
    return body;
  }

  async save() {
    const body = this.body();
    if (!Number.isFinite(body.location.lat) || !Number.isFinite(body.location.lng)) {
      showError(t("storeform.not-saved"), t("storeform.no-position"));
      return;
    }
    const editing = this.editing;
    try {
      const store = editing
        ? await api(`/v1/merchants/${editing.id}`, { method: "PATCH", key: this.key(), body })
        : await api("/v1/merchants", { method: "POST", key: this.key(), body });
      showOk(t("storeform.saved", { name: store.name, point: formatPoint(store.location.lat, store.location.lng) }));
      this.close();
      await this.onSaved(store, !editing);
    } catch (error) {
      showError(t("storeform.not-saved"), error);
    }
  }
}
