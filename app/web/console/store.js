// A store's details as the API gives them (GET /v1/merchants/{id}), for the explore popup and the
// merchant panel: a definition list of text, a link only for a phone number (tel:, digits only)
// and for attribute values that are http(s) addresses.

import { el, linkOrText } from "./dom.js";
import { t } from "./i18n.js";

export function storeDetails(store) {
  const rows = [
    [t("store.category"), store.category],
    [t("store.tags"), (store.tags ?? []).join(", ")],
    [t("store.address"), store.address],
    [t("store.phone"), store.phone && phoneLink(store.phone)],
    [t("store.opening-hours"), store.opening_hours],
    [t("store.timezone"), store.timezone],
    [t("store.number"), store.external_id],
    ...Object.entries(store.attributes ?? {}).map(([name, value]) => [
      name,
      typeof value === "string" ? linkOrText(value) : JSON.stringify(value),
    ]),
  ];
  const list = el("dl", { className: "details" });
  for (const [term, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    list.append(el("dt", {}, term), el("dd", {}, value));
  }
  return list;
}

// The popup of a store on the map: its name, distance when a search found it, and its details.
export function storeCard(store, distance) {
  return el(
    "div",
    { className: "store-card" },
    el("strong", { className: "name" }, store.name),
    distance ? el("span", { className: "distance" }, ` · ${distance}`) : null,
    storeDetails(store),
  );
}

function phoneLink(phone) {
  const dial = phone.replace(/[^\d+]/g, "");
  return /\d{3}/.test(dial) ? el("a", { href: `tel:${dial}` }, phone) : phone;
}
