// Change an offer after it started (PATCH /v1/offers/{id}): its title, description, window,
// quantity and per-user limit; end it now (its end set to this moment: the codes already claimed
// stay redeemable, only new claims stop); print its QR code (the SVG the service draws for the
// offer's deep link, opened in a page of its own to print).

import { api } from "./api.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";
import { showError, showOk } from "./message.js";

const $ = (id) => document.getElementById(id);

// "2026-12-05T11:30:00" in the browser's time zone, for a datetime-local input.
function localInput(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  const local = new Date(at.getTime() - at.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}

export class OfferEditor {
  // onChanged(offer): an offer was changed; the list reloads.
  constructor(key, onChanged) {
    this.key = key;
    this.onChanged = onChanged;
    this.offer = null;
    $("offer-edit").addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    $("cancel-offer-edit").addEventListener("click", () => this.close());
  }

  // The buttons of one offer in the list.
  actions(offer) {
    const edit = el("button", { type: "button", className: "edit-offer" }, t("offeredit.edit"));
    edit.addEventListener("click", (event) => {
      event.stopPropagation();
      this.edit(offer);
    });
    const end = el("button", { type: "button", className: "end-offer" }, t("offeredit.end-now"));
    end.disabled = offer.status === "ended";
    end.addEventListener("click", (event) => {
      event.stopPropagation();
      this.endNow(offer);
    });
    const qr = el(
      "a",
      { href: `/v1/offers/${offer.id}/qr.svg`, target: "_blank", rel: "noopener", className: "print-qr" },
      t("offeredit.print-qr"),
    );
    qr.addEventListener("click", (event) => event.stopPropagation());
    return el("div", { className: "buttons offer-actions" }, edit, end, qr);
  }

  edit(offer) {
    this.offer = offer;
    $("offer-edit").hidden = false;
    $("offer-edit").dataset.id = offer.id;
    $("oe-title").value = offer.title;
    $("oe-description").value = offer.description ?? "";
    $("oe-starts").value = localInput(offer.starts_at);
    $("oe-ends").value = localInput(offer.ends_at);
    $("oe-quantity").value = offer.quantity ?? "";
    $("oe-per-user").value = offer.per_user_limit ?? "";
    $("oe-title").focus();
  }

  close() {
    $("offer-edit").hidden = true;
    this.offer = null;
  }

  async save() {
    const offer = this.offer;
    const number = (id) => ($(id).value.trim() === "" ? null : Number($(id).value));
    const instant = (id) => ($(id).value ? new Date($(id).value).toISOString() : null);
    const body = {
      title: $("oe-title").value.trim(),
      description: $("oe-description").value.trim() || null,
      ends_at: instant("oe-ends"),
      quantity: number("oe-quantity"),
    };
    const starts = instant("oe-starts");
    if (starts) body.starts_at = starts;
    body.per_user_limit = number("oe-per-user"); // empty: unlimited
    try {
      const saved = await api(`/v1/offers/${offer.id}`, { method: "PATCH", key: this.key(), body });
      showOk(t("offeredit.saved", { title: saved.title }));
      this.close();
      await this.onChanged(saved);
    } catch (error) {
      showError(t("offeredit.not-changed"), error);
    }
  }

  // Its end moved to now: no new claims; the codes already claimed can still be redeemed.
  async endNow(offer) {
    if (!window.confirm(t("offeredit.confirm-end", { title: offer.title }))) return;
    const now = new Date();
    const body = { ends_at: now.toISOString() };
    // An offer that has not started yet: its window becomes empty at this moment.
    if (new Date(offer.starts_at) >= now) body.starts_at = new Date(now.getTime() - 1000).toISOString();
    try {
      const saved = await api(`/v1/offers/${offer.id}`, { method: "PATCH", key: this.key(), body });
      showOk(t("offeredit.ended", { title: saved.title, n: saved.claimed }));
      await this.onChanged(saved);
    } catch (error) {
      showError(t("offeredit.not-ended"), error);
    }
  }
}
