// Upload a store list (CSV, GeoJSON or NDJSON) from a file picker: POST /v1/imports as a
// multipart form, then the job polled (GET /v1/imports/{id}) for its progress until it ends.
// The end shows its counts, each column that failed as a whole with its fix, and the rejected
// rows with their row, store number, field and message; errors.csv is fetched with the key (a
// plain link would not carry it) and saved from a blob.

import { ApiError, api, describe } from "./api.js";
import { el } from "./dom.js";
import { has, onLanguageChange, t } from "./i18n.js";
import { clearMessage, showError, showOk } from "./message.js";

const POLL_MS = 400;
const $ = (id) => document.getElementById(id);

export class Upload {
  // onDone(job): a job ended with stores written.
  constructor(key, onDone) {
    this.key = key;
    this.onDone = onDone;
    this.job = null;
    $("upload-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.start();
    });
    $("close-upload").addEventListener("click", () => this.close());
    $("upload-errors-csv").addEventListener("click", () => this.download());
    onLanguageChange(() => {
      if (this.job && !$("upload-status").hidden) this.showStatus(this.job);
    });
  }

  open() {
    $("upload-form").hidden = false;
    $("upload-file").focus();
  }

  close() {
    $("upload-form").hidden = true;
  }

  async start() {
    const file = $("upload-file").files[0];
    if (!file) return;
    const params = new URLSearchParams({ coord: $("upload-coord").value });
    for (const [name, id] of [["map", "upload-map"], ["set", "upload-set"]]) {
      for (const pair of $(id).value.split(",").map((p) => p.trim()).filter(Boolean)) params.append(name, pair);
    }
    const form = new FormData();
    form.append("file", file, file.name);
    $("start-upload").disabled = true;
    this.showStatus({ status: "uploading", size_bytes: file.size, bytes_read: 0, rows_total: 0, rows_failed: 0 });
    try {
      const response = await fetch(`/v1/imports?${params}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${this.key()}`, Accept: "application/json" },
        body: form,
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) throw new ApiError(describe(response.status, body, ""), response.status, body);
      clearMessage();
      await this.follow(body.id);
    } catch (error) {
      showError(t("upload.failed"), error);
      $("upload-status").hidden = true;
    } finally {
      $("start-upload").disabled = false;
    }
  }

  async follow(id) {
    for (;;) {
      const job = await api(`/v1/imports/${id}`, { key: this.key() });
      this.showStatus(job);
      if (job.status === "done" || job.status === "failed") {
        this.finished(job);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  showStatus(job) {
    $("upload-status").hidden = false;
    $("upload-status").dataset.status = job.status;
    const progress = $("upload-progress");
    progress.max = Math.max(job.size_bytes, 1);
    progress.value = job.status === "done" ? progress.max : job.bytes_read;
    const status = has(`import.${job.status}`) ? t(`import.${job.status}`) : job.status;
    $("upload-counts").textContent =
      t("upload.counts", { status, total: job.rows_total, failed: job.rows_failed }) +
      (job.status === "done"
        ? t("upload.stored", { ok: job.rows_ok, inserted: job.rows_inserted, updated: job.rows_updated })
        : "");
    $("upload-columns").replaceChildren(...(job.columns_failed ?? []).map((column) => el("li", {}, column.fix)));
    const errors = job.errors ?? [];
    $("upload-errors").hidden = errors.length === 0;
    $("upload-errors").tBodies[0].replaceChildren(
      ...errors.map((e) =>
        el("tr", {}, el("td", {}, String(e.row)), el("td", {}, e.external_id ?? ""), el("td", {}, e.field), el("td", {}, e.msg)),
      ),
    );
    $("upload-errors-csv").hidden = !(job.rows_failed > 0 && job.errors_csv);
    this.job = job;
  }

  finished(job) {
    if (job.status === "failed") {
      showError(t("upload.failed"), job.reason);
      return;
    }
    const file = job.filename ?? t("upload.the-list");
    showOk(t("upload.done", { file, ok: job.rows_ok, failed: job.rows_failed }));
    this.onDone(job);
  }

  async download() {
    const job = this.job;
    try {
      const response = await fetch(job.errors_csv, { headers: { Authorization: `Bearer ${this.key()}` } });
      if (!response.ok) throw new ApiError(`HTTP ${response.status}`, response.status, null);
      const url = URL.createObjectURL(await response.blob());
      const link = el("a", { href: url, download: `import-${job.id}-errors.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      showError(t("upload.csv-failed"), error);
    }
  }
}
