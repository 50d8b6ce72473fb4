// The owner's webhooks: add one (URL and event types; its signing secret is shown once, with a
// copy button), list and delete them, and each one's deliveries (GET
// /v1/webhooks/{id}/deliveries?status=): status, attempts, the last answer or error, the next
// retry. Open delivery lists refresh every few seconds while the merchant view is open.

import { api } from "./api.js";
import { el } from "./dom.js";
import { EVENT_TYPES } from "./events.js";
import { dateTime, t } from "./i18n.js";
import { showError, showOk } from "./message.js";
import { ownerKey } from "./ownerkey.js";

const REFRESH_MS = 3000;
const SUBSCRIBED = new Set(["offer.claimed", "claim.redeemed", "offer.sold_out"]); // ticked at first
const $ = (id) => document.getElementById(id);

export class Webhooks {
  constructor() {
    this.active = false;
    this.hooks = [];
    this.open = new Map(); // webhook id -> {status, deliveries, error}
    this.timer = null;
    this.generation = 0;
    this.buildChoices();
    $("webhook-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.add();
    });
    $("copy-secret").addEventListener("click", () => this.copySecret());
    $("secret-done").addEventListener("click", () => this.hideSecret());
  }

  activate() {
    this.active = true;
    this.load();
  }

  deactivate() {
    this.active = false;
    this.generation += 1;
    clearTimeout(this.timer);
  }

  keyChanged() {
    this.hooks = [];
    this.open.clear();
    this.hideSecret();
    this.generation += 1;
    clearTimeout(this.timer);
    this.render();
    if (this.active) this.load();
  }

  relabel() {
    this.buildChoices();
    this.render();
  }

  // One checkbox per event type, named in words and by its API name; ticks survive a relabel.
  buildChoices() {
    const box = $("webhook-events");
    const ticked = new Set(
      [...box.querySelectorAll("input:checked")].map((input) => input.value),
    );
    const first = box.querySelectorAll("input").length === 0;
    box.querySelectorAll("label").forEach((label) => label.remove());
    for (const type of EVENT_TYPES) {
      const input = el("input", { type: "checkbox", name: "webhook-event", value: type });
      input.checked = first ? SUBSCRIBED.has(type) : ticked.has(type);
      box.append(el("label", { title: type }, input, ` ${t(`event.${type}`)}`));
    }
  }

  async load() {
    const key = ownerKey();
    $("webhooks-box").hidden = !key;
    if (!key) return;
    const generation = ++this.generation;
    clearTimeout(this.timer);
    try {
      const body = await api("/v1/webhooks", { key });
      if (generation !== this.generation) return;
      this.hooks = body.results;
      for (const id of this.open.keys()) if (!this.hooks.some((hook) => hook.id === id)) this.open.delete(id);
      await Promise.all([...this.open.keys()].map((id) => this.loadDeliveries(id, generation)));
      if (generation !== this.generation) return;
      this.render();
    } catch (error) {
      if (generation !== this.generation) return;
      // A refused key is the merchant view's to say; anything else is said here, in the box.
      if (error.status === 401) $("webhooks-box").hidden = true;
      $("webhooks-status").hidden = false;
      $("webhooks-status").textContent = `${t("webhooks.failed")}: ${error.message}`;
      return;
    }
    $("webhooks-status").hidden = true;
    if (this.active && this.open.size) {
      this.timer = setTimeout(() => this.refresh(generation), REFRESH_MS);
    }
  }

  // The open delivery lists again, while nothing else changed.
  async refresh(generation) {
    if (generation !== this.generation || !this.active) return;
    if (!document.hidden) {
      await Promise.all([...this.open.keys()].map((id) => this.loadDeliveries(id, generation)));
      if (generation !== this.generation) return;
      this.render();
    }
    if (this.open.size) this.timer = setTimeout(() => this.refresh(generation), REFRESH_MS);
  }

  async loadDeliveries(id, generation) {
    const shown = this.open.get(id);
    try {
      const page = await api(`/v1/webhooks/${id}/deliveries`, {
        key: ownerKey(),
        params: { status: shown.status, limit: 20 },
      });
      if (generation === this.generation) Object.assign(shown, { deliveries: page.results, error: null });
    } catch (error) {
      if (generation === this.generation) Object.assign(shown, { error: error.message });
    }
  }

  async add() {
    const url = $("webhook-url").value.trim();
    const events = [...$("webhook-events").querySelectorAll("input:checked")].map((input) => input.value);
    if (!events.length) {
      showError(t("webhooks.not-added"), t("webhooks.pick-events"));
      return;
    }
    let created;
    try {
      created = await api("/v1/webhooks", { method: "POST", key: ownerKey(), body: { url, events } });
    } catch (error) {
      showError(t("webhooks.not-added"), error);
      return;
    }
    $("webhook-url").value = "";
    showOk(t("webhooks.added", { url: created.url }));
    $("webhook-secret").hidden = false;
    $("webhook-secret-value").value = created.secret;
    $("webhook-secret-value").select();
    this.open.set(created.id, { status: "", deliveries: [], error: null }); // to see the first ones
    await this.load();
  }

  async copySecret() {
    const field = $("webhook-secret-value");
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      showOk(t("webhooks.copied"));
    } catch (error) {
      // Not a secure context, or the browser said no: the secret is selected for the user.
      showError(t("webhooks.copy-manually"), error);
    }
  }

  hideSecret() {
    $("webhook-secret-value").value = "";
    $("webhook-secret").hidden = true;
  }

  async remove(hook) {
    if (!window.confirm(t("webhooks.confirm-delete", { url: hook.url }))) return;
    try {
      await api(`/v1/webhooks/${hook.id}`, { method: "DELETE", key: ownerKey() });
      showOk(t("webhooks.deleted", { url: hook.url }));
    } catch (error) {
      showError(t("webhooks.delete-failed"), error);
    }
    this.open.delete(hook.id);
    await this.load();
  }

  toggle(hook) {
    if (this.open.has(hook.id)) this.open.delete(hook.id);
    else this.open.set(hook.id, { status: "", deliveries: null, error: null });
    this.load();
  }

  filter(hook, status) {
    Object.assign(this.open.get(hook.id), { status, deliveries: null });
    this.load();
  }

  render() {
    $("no-webhooks").hidden = this.hooks.length > 0;
    $("webhooks").replaceChildren(...this.hooks.map((hook) => this.item(hook)));
  }

  item(hook) {
    const shown = this.open.get(hook.id);
    const deliveries = el("button", { type: "button", className: "deliveries-toggle" },
      t(shown ? "webhooks.hide" : "webhooks.deliveries"));
    deliveries.addEventListener("click", () => this.toggle(hook));
    const remove = el("button", { type: "button", className: "delete" }, t("webhooks.delete"));
    remove.addEventListener("click", () => this.remove(hook));
    const item = el(
      "li",
      { dataset: { id: hook.id } },
      el("span", { className: "name url" }, hook.url),
      el("div", { className: "meta events" }, hook.events.join(", ")),
      el("div", { className: "meta" }, t("webhooks.created", { time: dateTime(hook.created_at) })),
      el("div", { className: "buttons" }, deliveries, remove),
    );
    if (shown) item.append(this.deliveryList(hook, shown));
    return item;
  }

  deliveryList(hook, shown) {
    const select = el("select", { className: "delivery-status" });
    for (const status of ["", "pending", "failed", "delivered"]) {
      const option = el("option", { value: status }, status ? t(`delivery.${status}`) : t("webhooks.all"));
      select.append(option);
    }
    select.value = shown.status;
    select.addEventListener("change", () => this.filter(hook, select.value));
    const box = el(
      "div",
      { className: "deliveries" },
      el("label", {}, `${t("webhooks.status-filter")} `, select),
    );
    if (shown.error) box.append(el("p", { className: "hint failed" }, `${t("webhooks.deliveries-failed")}: ${shown.error}`));
    if (shown.deliveries && !shown.deliveries.length) box.append(el("p", { className: "hint" }, t("webhooks.no-deliveries")));
    const list = el("ol", { className: "list delivery-list" });
    for (const delivery of shown.deliveries ?? []) list.append(deliveryItem(delivery));
    box.append(list);
    return box;
  }
}

function deliveryItem(delivery) {
  const facts = [
    t("delivery.attempts", { n: delivery.attempts }),
    delivery.last_status !== null && t("delivery.answered", { status: String(delivery.last_status) }),
    delivery.last_error && t("delivery.error", { error: delivery.last_error }),
    delivery.status === "pending" && delivery.next_attempt_at &&
      t("delivery.next", { time: dateTime(delivery.next_attempt_at, { seconds: true }) }),
    delivery.delivered_at && t("delivery.delivered-at", { time: dateTime(delivery.delivered_at, { seconds: true }) }),
  ].filter(Boolean);
  return el(
    "li",
    { dataset: { event: delivery.event_id, status: delivery.status } },
    el("span", { className: `distance status ${delivery.status}` }, t(`delivery.${delivery.status}`)),
    el("span", { className: "name" }, t(`event.${delivery.event_type}`)),
    el("div", { className: "meta" }, t("delivery.event", { id: delivery.event_id })),
    el("div", { className: "meta facts" }, facts.join(" · ")),
  );
}
