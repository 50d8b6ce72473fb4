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
import { onLanguageChange, t } from "./i18n.js";
import { clearMessage, showError, showOk } from "./message.js";

const $ = (id) => document.getElementById(id);
const DAY_MS = 86_400_000;
const SHARERS_SHOWN = 10;
// The totals: each one's words, and its stable name in the page (data-total).
const TOTALS = [
  ["claims", "stats.claims"],
  ["redemptions", "stats.redemptions"],
  ["redemption rate", "stats.rate"],
  ["users", "stats.users"],
  ["shares", "stats.shares"],
];

export class StatsView {
  constructor(map, key, coord) {
    this.map = map;
    this.key = key; // () => the owner key
    this.coord = coord;
    this.heat = L.layerGroup();
    this.chart = null;
    this.subject = null; // { kind: "offer" | "merchant", id, title, store }
    this.last = null; // the API's last answer (for the end-to-end tests)
    this.shift = [0, 0]; // the heat map's offset from WGS-84 to the map's system
    $("stats-range").addEventListener("change", () => this.load());
    $("stats-bucket").addEventListener("change", () => this.load());
    $("stats-close").addEventListener("click", () => this.close());
    $("stats-csv").addEventListener("click", () => this.exportCsv());
    this.labelRanges();
    onLanguageChange(() => this.relabel());
  }

  labelRanges() {
    for (const option of $("stats-range").options) option.textContent = t("stats.days", { n: Number(option.dataset.days) });
  }

  // A new language: what is on screen is written again from the last answer, nothing is asked.
  relabel() {
    this.labelRanges();
    const stats = this.last;
    if (!stats || !this.subject) return;
    this.renderTotals(stats);
    this.renderSeries(stats);
    this.renderSharers(stats);
    this.drawHeat(stats);
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
      showError(t("stats.failed"), error);
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
    const totals = stats.totals;
    const values = {
      claims: totals.claims,
      redemptions: totals.redemptions,
      "redemption rate": totals.redemption_rate === null ? "–" : `${(totals.redemption_rate * 100).toFixed(1)}%`,
      users: totals.users,
      shares: totals.shares,
    };
    const list = el("dl", { className: "details totals" });
    for (const [name, key] of TOTALS) {
      list.append(el("dt", {}, t(key)), el("dd", { dataset: { total: name } }, String(values[name])));
    }
    $("stats-totals").replaceChildren(list);
    $("stats-range-text").textContent = t("stats.range-text", {
      from: formatTime(stats.from, stats.bucket),
      to: formatTime(stats.to, stats.bucket),
      timezone: stats.timezone,
      bucket: t(`stats.bucket.${stats.bucket}`),
    });
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
          { label: t("stats.claims"), stroke: "#1f6feb", width: 2 },
          { label: t("stats.redemptions"), stroke: "#2b8a3e", width: 2 },
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
          s.kol ? el("span", { className: "distance" }, t("stats.top")) : null,
          el(
            "div",
            { className: "meta" },
            t("stats.sharer", {
              claims: s.claims,
              redemptions: s.redemptions,
              chainClaims: s.chain_claims,
              chainRedemptions: s.chain_redemptions,
              depth: s.depth,
            }),
          ),
        ),
      ),
    );
    const kol = stats.kol;
    $("stats-kol").textContent = kol.attributed
      ? t("stats.kol", {
          sharers: kol.sharers,
          of: kol.of,
          percent: Math.round(kol.redemptions_share * 100),
          attributed: kol.attributed,
        })
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
        showError(t("stats.position-failed"), error);
      }
    }
    this.shift = shift;
    this.drawHeat(stats);
    if (cells.length) {
      const bounds = L.latLngBounds([]);
      for (const layer of this.heat.getLayers()) bounds.extend(layer.getBounds());
      this.map.fitBounds(bounds, { maxZoom: 16 });
    }
  }

  // The claim cells on the map, moved by this.shift, and the line that tells about them.
  drawHeat(stats) {
    this.heat.clearLayers();
    const cells = stats.cells;
    const shift = this.shift;
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
        .bindTooltip(el("span", {}, t("stats.cell", { claims: cell.claims, redemptions: cell.redemptions })))
        .addTo(this.heat);
    }
    const withheld = stats.cells_withheld;
    $("stats-cells").textContent = cells.length
      ? t("stats.cells", { n: cells.length }) + (withheld ? t("stats.withheld", { n: withheld }) : t("stats.full-stop"))
      : t("stats.no-cells");
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
      showError(t("stats.export-failed"), error);
      return;
    }
    if (!response.ok) {
      showError(t("stats.export-failed"), `HTTP ${response.status}`);
      return;
    }
    const blob = await response.blob();
    const link = el("a", { href: URL.createObjectURL(blob), download: `offer-${subject.id}-claims.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    showOk(t("stats.exported"));
  }
}

function formatTime(iso, bucket) {
  // Told as the API tells it: the store's local time (the offset is in the string).
  const local = iso.slice(0, 16).replace("T", " ");
  return bucket === "day" ? local.slice(0, 10) : local;
}
