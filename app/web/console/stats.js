// Statistics of an offer or a store, for its owner, on the public API only
// (GET /v1/offers/{id}/stats, GET /v1/merchants/{id}/stats, GET /v1/offers/{id}/claims.csv):
// totals and the redemption rate, claims and redemptions over time (uPlot, served from /vendor/
// like Leaflet) with the same numbers in a table beside it, the claim cells as a heat map on the
// map (H3 outlines from h3-js), the top sharers, and the CSV export of an offer's claims.
//
// Cells are WGS-84. When the map shows GCJ-02, the heat map is moved by the store's own offset
// between the two (the API gives the store in both): the offset changes by well under a metre
// across the few hundred metres of a store's cells.

import { api } from "./api.js";
import { el } from "./dom.js";
import { clearMessage, showError, showOk } from "./message.js";

const $ = (id) => document.getElementById(id);
const DAY_MS = 86_400_000;
const SHARERS_SHOWN = 10;

export class StatsView {
  constructor(map, key, coord) {
    this.map = map;
    this.key = key; // () => the owner key
    this.coord = coord;
    this.heat = L.layerGroup();
    this.chart = null;
    this.subject = null; // { kind: "offer" | "merchant", id, title, store }
    this.last = null; // the API's last answer (for the end-to-end tests)
    $("stats-range").addEventListener("change", () => this.load());
    $("stats-bucket").addEventListener("change", () => this.load());
    $("stats-close").addEventListener("click", () => this.close());
    $("stats-csv").addEventListener("click", () => this.exportCsv());
  }

  // Show the statistics of an offer (kind "offer") or a store (kind "merchant") of `store`.
  async show(kind, id, title, store) {
    this.subject = { kind, id, title, store };
    $("stats").hidden = false;
    $("stats-title").textContent = title;
    $("stats-csv").hidden = kind !== "offer";
    this.heat.addTo(this.map);
    await this.load();
    $("stats").scrollIntoView({ block: "start" });
  }

  close() {
    this.subject = null;
    this.last = null;
    $("stats").hidden = true;
    this.heat.clearLayers();
    this.heat.remove();
    this.chart?.destroy();
    this.chart = null;
  }

  async load() {
    const subject = this.subject;
    if (!subject) return;
    const days = Number($("stats-range").value);
    const bucket = $("stats-bucket").value;
    const params = { bucket, from: new Date(Date.now() - days * DAY_MS).toISOString() };
    let stats;
    try {
      const path = subject.kind === "offer" ? `/v1/offers/${subject.id}/stats` : `/v1/merchants/${subject.id}/stats`;
      stats = await api(path, { key: this.key(), params });
    } catch (error) {
      showError("The statistics could not be loaded", error);
      return;
    }
    if (subject !== this.subject) return;
    clearMessage();
    this.last = stats;
    this.renderTotals(stats);
    this.renderSeries(stats);
    this.renderSharers(stats);
    await this.renderHeat(stats, subject);
  }

  renderTotals(stats) {
    const t = stats.totals;
    const rate = t.redemption_rate === null ? "–" : `${(t.redemption_rate * 100).toFixed(1)}%`;
    const rows = [
      ["Claims", t.claims],
      ["Redemptions", t.redemptions],
      ["Redemption rate", rate],
      ["Users", t.users],
      ["Shares", t.shares],
    ];
    const list = el("dl", { className: "details totals" });
    for (const [term, value] of rows) {
      list.append(el("dt", {}, term), el("dd", { dataset: { total: term.toLowerCase() } }, String(value)));
    }
    $("stats-totals").replaceChildren(list);
    $("stats-range-text").textContent =
      `${formatTime(stats.from, stats.bucket)} – ${formatTime(stats.to, stats.bucket)} (${stats.timezone}, by ${stats.bucket})`;
  }

  renderSeries(stats) {
    const xs = stats.series.map((p) => Date.parse(p.t) / 1000);
    const claims = stats.series.map((p) => p.claims);
    const redemptions = stats.series.map((p) => p.redemptions);
    this.chart?.destroy();
    const box = $("stats-chart");
    box.replaceChildren();
    this.chart = new uPlot(
      {
        width: Math.max(280, box.clientWidth || 340),
        height: 180,
        series: [
          {},
          { label: "Claims", stroke: "#1f6feb", width: 2 },
          { label: "Redemptions", stroke: "#2b8a3e", width: 2 },
        ],
        axes: [{}, { size: 40 }],
        scales: { x: { time: true } },
        legend: { live: false },
      },
      [xs, claims, redemptions],
      box,
    );
    $("stats-table").querySelector("tbody").replaceChildren(
      ...stats.series.map((p) =>
        el(
          "tr",
          { dataset: { t: p.t } },
          el("td", {}, formatTime(p.t, stats.bucket)),
          el("td", {}, String(p.claims)),
          el("td", {}, String(p.redemptions)),
        ),
      ),
    );
  }

  renderSharers(stats) {
    const shown = stats.sharers.slice(0, SHARERS_SHOWN);
    $("stats-no-sharers").hidden = shown.length > 0;
    $("stats-sharers").replaceChildren(
      ...shown.map((s) =>
        el(
          "li",
          { dataset: { user: s.user_id } },
          el("span", { className: "name" }, s.user_id),
          s.kol ? el("span", { className: "distance" }, "top 80%") : null,
          el(
            "div",
            { className: "meta" },
            `own ${s.claims} claims · ${s.redemptions} redeemed · chain ${s.chain_claims} claims · ` +
              `${s.chain_redemptions} redeemed · depth ${s.depth}`,
          ),
        ),
      ),
    );
    const kol = stats.kol;
    $("stats-kol").textContent = kol.attributed
      ? `${kol.sharers} of ${kol.of} sharers bring ${Math.round(kol.redemptions_share * 100)}% of the ` +
        `${kol.attributed} redemptions through shares.`
      : "";
  }

  async renderHeat(stats, subject) {
    this.heat.clearLayers();
    const cells = stats.cells;
    let shift = [0, 0];
    if (this.coord() !== "wgs84" && cells.length) {
      try {
        const wgs = await api(`/v1/merchants/${subject.store.id}`, { params: { coord: "wgs84" } });
        shift = [subject.store.location.lat - wgs.location.lat, subject.store.location.lng - wgs.location.lng];
      } catch (error) {
        showError("The store's position could not be read", error);
      }
    }
    const most = Math.max(1, ...cells.map((c) => c.claims));
    for (const cell of cells) {
      const ring = h3.cellToBoundary(cell.h3).map(([lat, lng]) => [lat + shift[0], lng + shift[1]]);
      L.polygon(ring, {
        className: "heat-cell",
        color: "#b02a00",
        weight: 0.5,
        fillColor: "#f03e00",
        fillOpacity: 0.15 + 0.6 * (cell.claims / most),
      })
        .bindTooltip(el("span", {}, `${cell.claims} claims · ${cell.redemptions} redeemed`))
        .addTo(this.heat);
    }
    $("stats-cells").textContent = cells.length
      ? `${cells.length} place${cells.length === 1 ? "" : "s"} on the map where codes were claimed` +
        (stats.cells_withheld ? ` (${stats.cells_withheld} claims in places of fewer than 5 people not shown).` : ".")
      : "No place on the map yet: a place shows once 5 different people claimed there.";
    if (cells.length) {
      const bounds = L.latLngBounds([]);
      for (const layer of this.heat.getLayers()) bounds.extend(layer.getBounds());
      this.map.fitBounds(bounds, { maxZoom: 16 });
    }
  }

  // The CSV needs the owner key, so it is fetched here and handed to the browser as a file.
  async exportCsv() {
    const subject = this.subject;
    if (!subject || subject.kind !== "offer") return;
    let response;
    try {
      response = await fetch(`/v1/offers/${subject.id}/claims.csv`, {
        headers: { Authorization: `Bearer ${this.key()}` },
      });
    } catch (error) {
      showError("The export failed", error);
      return;
    }
    if (!response.ok) {
      showError("The export failed", `HTTP ${response.status}`);
      return;
    }
    const blob = await response.blob();
    const link = el("a", { href: URL.createObjectURL(blob), download: `offer-${subject.id}-claims.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    showOk("The claims were exported.");
  }
}

function formatTime(iso, bucket) {
  // Told as the API tells it: the store's local time (the offset is in the string).
  const local = iso.slice(0, 16).replace("T", " ");
  return bucket === "day" ? local.slice(0, 10) : local;
}
