// Calls to the service's public HTTP API (../shared/API.md), nothing else. Errors come back as
// problem+json (RFC 9457); ApiError turns them into a sentence a person can read, its title in
// the console's language (chosen by the problem's stable `type`), the service's detail as it is.

import { has, t } from "./i18n.js";

export class ApiError extends Error {
  constructor(message, status, problem) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

export async function api(path, { method = "GET", params, body, key } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params ?? {})) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined && one !== null && one !== "") url.searchParams.append(name, String(one));
    }
  }
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(t("api.unreachable", { reason: error.message }), 0, null);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(describe(response.status, data, text), response.status, data);
  return data;
}

// "Invalid input (422): radius: ..." plus one line per further invalid field.
export function describe(status, problem, text) {
  if (problem && typeof problem === "object" && (problem.title || problem.detail)) {
    const lines = [`${title(problem)} (${status})${problem.detail ? `: ${problem.detail}` : ""}`];
    const errors = Array.isArray(problem.errors) ? problem.errors : [];
    if (errors.length > 1) {
      for (const error of errors) lines.push(`• ${(error.loc ?? []).join(".")}: ${error.msg}`);
    }
    return lines.join("\n");
  }
  return t("api.http", { status: String(status), text: (text ?? "").slice(0, 200) || t("api.no-details") });
}

// "/problems/sold-out" -> the words for it; a problem of another kind keeps its own title.
function title(problem) {
  const slug = /^\/problems\/([a-z-]+)$/.exec(problem.type ?? "")?.[1];
  if (slug && has(`problem.${slug}`)) return t(`problem.${slug}`);
  return problem.title ?? t("api.error");
}

// Every page of a paged list (results + next_cursor), up to `maxPages`.
export async function allPages(path, options, maxPages = 50) {
  const results = [];
  let cursor;
  for (let page = 0; page < maxPages; page += 1) {
    const body = await api(path, { ...options, params: { ...options.params, cursor } });
    results.push(...body.results);
    cursor = body.next_cursor;
    if (!cursor) return { results, complete: true };
  }
  return { results, complete: false };
}
