// The owner's latest events, live: GET /v1/events, the newest 50 first (tail=true), then every
// few seconds the ones committed since (after=<the last id>), newest on top. Offers and stores
// are named by their title and name, looked up once each; an id shows until then (or for ever
// when the offer or store is gone).

import { api } from "./api.js";
import { el } from "./dom.js";
import { dateTime, has, t } from "./i18n.js";
import { ownerKey } from "./ownerkey.js";

export const EVENT_TYPES = [
  "offer.claimed",
  "claim.redeemed",
  "offer.sold_out",
  "fence.entered",
  "fence.dwelled",
  "fence.exited",
  "import.finished",
];

const POLL_MS = 3000;
const FIRST = 50; // events shown when the view opens
const PAGE = 200; // events asked for at a time while catching up
const KEEP = 100; // events kept on the page
const $ = (id) => document.getElementById(id);

export class EventFeed {
  constructor() {
    this.active = false;
    this.timer = null;
    this.generation = 0; // a new key, or leaving the view, makes answers still on their way stale
    this.reset();
    this.names = new Names(() => this.render());
    document.addEventListener("visibilitychange", () => {
      if (!this.active) return;
      if (document.hidden) this.stop();
      else this.schedule(0);
    });
  }

  reset() {
    this.events = []; // newest first
    this.cursor = null;
    this.loaded = false;
  }

  activate() {
    this.active = true;
    this.schedule(0);
  }

  deactivate() {
    this.active = false;
    this.stop();
  }

  keyChanged() {
    this.stop();
    this.reset();
    this.names.clear();
    this.render();
    if (this.active) this.schedule(0);
  }

  relabel() {
    if (this.said) this.status(...this.said);
    this.render();
  }

  stop() {
    this.generation += 1;
    clearTimeout(this.timer);
    this.timer = null;
  }

  schedule(ms) {
    clearTimeout(this.timer);
    const generation = this.generation;
    this.timer = setTimeout(() => this.poll(generation), ms);
  }

  async poll(generation) {
    const key = ownerKey();
    $("events-box").hidden = !key;
    if (!key || generation !== this.generation) return;
    try {
      let more = true;
      for (let pages = 0; more && pages < 10; pages += 1) {
        const params = this.loaded ? { after: this.cursor, limit: PAGE } : { tail: "true", limit: FIRST };
        const page = await api("/v1/events", { key, params });
        if (generation !== this.generation) return;
        more = this.loaded && page.results.length === PAGE;
        this.loaded = true;
        this.cursor = page.next_cursor ?? this.cursor;
        this.events = [...page.results.reverse(), ...this.events].slice(0, KEEP);
      }
      const at = new Date().toISOString();
      this.status(() => t("events.updated", { time: dateTime(at, { seconds: true }) }), false);
      this.render();
    } catch (error) {
      if (generation !== this.generation) return;
      this.status(() => `${t("events.failed")}: ${error.message}`, true);
      if (error.status === 401) $("events-box").hidden = true; // the merchant view says why
      if (error.status === 401 || error.status === 403) return; // not until the key changes
    }
    if (generation === this.generation && this.active && !document.hidden) this.schedule(POLL_MS);
  }

  // The status line: `say` writes it in the page's language (again after a switch).
  status(say, failed) {
    this.said = [say, failed];
    const line = $("events-status");
    line.removeAttribute("data-i18n"); // its text is this feed's now
    line.textContent = say();
    line.classList.toggle("failed", failed);
  }

  render() {
    $("no-events").hidden = !this.loaded || this.events.length > 0;
    $("events").replaceChildren(...this.events.map((event) => this.item(event)));
  }

  item(event) {
    const offer = event.offer_id && this.names.offer(event.offer_id);
    const store = event.merchant_id && this.names.store(event.merchant_id);
    const about = [
      offer && t("events.offer", { name: offer }),
      store && t("events.store", { name: store }),
      event.user_id && t("events.user", { user: event.user_id }),
    ].filter(Boolean);
    return el(
      "li",
      { dataset: { id: event.id, type: event.type } },
      el("span", { className: "distance time" }, dateTime(event.at, { seconds: true })),
      el("span", { className: "name" }, t(`event.${event.type}`)),
      el("span", { className: "meta type" }, ` ${event.type}`),
      el("div", { className: "meta about" }, about.join(" · ")),
      el("div", { className: "meta data" }, summary(event)),
    );
  }
}

// What an event's data says, in a line.
export function summary(event) {
  const data = event.data ?? {};
  const claimed = () =>
    data.quantity === null || data.quantity === undefined
      ? t("data.claimed", { claimed: data.claimed })
      : t("data.claimed-of", { claimed: data.claimed, quantity: data.quantity });
  switch (event.type) {
    case "offer.claimed":
      return [t("data.code", { code: data.code }), claimed()].join(" · ");
    case "claim.redeemed":
      return t("data.code", { code: data.code });
    case "offer.sold_out":
      return claimed();
    case "import.finished":
      return [
        t("data.import", {
          status: has(`import.${data.status}`) ? t(`import.${data.status}`) : data.status,
          total: data.rows_total,
          ok: data.rows_ok,
          failed: data.rows_failed,
        }),
        data.reason,
      ].filter(Boolean).join(" · ");
    default:
      return Object.entries(data)
        .map(([name, value]) => `${name}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
        .join(" · ")
        .slice(0, 300);
  }
}

// Titles of offers and names of stores by id, each asked for once; `changed` when one arrives.
class Names {
  constructor(changed) {
    this.changed = changed;
    this.clear();
  }

  clear() {
    this.known = new Map(); // "offer:<id>" | "store:<id>" -> name | null (gone) | undefined (asked)
  }

  offer(id) {
    return this.look(`offer:${id}`, id, async (key) => (await api(`/v1/offers/${id}`, { key })).title);
  }

  store(id) {
    return this.look(`store:${id}`, id, async (key) => (await api(`/v1/merchants/${id}`, { key })).name);
  }

  look(slot, id, fetchName) {
    if (!this.known.has(slot)) {
      this.known.set(slot, undefined);
      const known = this.known;
      fetchName(ownerKey())
        .then((name) => known.set(slot, name))
        .catch(() => known.set(slot, null))
        .then(() => known === this.known && this.changed());
    }
    return this.known.get(slot) ?? id;
  }
}
