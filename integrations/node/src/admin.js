// The mock's admin API (/__admin/) over fetch. Usable from any process that knows the mock's
// addresses, such as a vitest worker given them by the globalSetup.

import { readFile } from "node:fs/promises";

// Admin calls are local and cheap; a mock that does not answer within this is wedged.
const ADMIN_TIMEOUT_MS = 10_000;

/** The admin API refused a call; `status` and `detail` are the mock's answer. */
export class MockAdminError extends Error {
  constructor(method, url, status, detail) {
    super(`${method} ${url}: HTTP ${status}: ${detail}`);
    this.name = "MockAdminError";
    this.status = status;
    this.detail = detail;
  }
}

/** Addresses of a mock (its ready line, snake_case or camelCase) and its admin calls. */
export class AdminClient {
  constructor(info) {
    this.baseUrl = info.base_url ?? info.baseUrl;
    this.apiKey = info.api_key ?? info.apiKey;
    this.adminUrl = (info.admin_url ?? info.adminUrl ?? `${this.baseUrl}/__admin`).replace(/\/+$/, "");
    this.pid = info.pid;
    if (!this.baseUrl || !this.apiKey) throw new TypeError("a mock needs base_url and api_key");
  }

  /** The addresses alone, as plain data (what a globalSetup hands to test workers). */
  toJSON() {
    return { base_url: this.baseUrl, api_key: this.apiKey, admin_url: this.adminUrl, pid: this.pid };
  }

  /** The request journal, oldest first. Filters: session_id, path_prefix, method, channel,
   * since (a seq). Entries are the mock's JSON objects (seq, time, method, path, status,
   * headers, session_id, body; channel, scope, type, data for data-channel messages). */
  async journal(filters = {}) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    const qs = q.toString();
    return (await this.call("GET", `/requests${qs ? `?${qs}` : ""}`)) ?? [];
  }

  async clearJournal() {
    await this.call("DELETE", "/requests");
  }

  async sessions() {
    return (await this.call("GET", "/sessions")) ?? [];
  }

  /** Back to the starting scenario: sessions closed, uploads and journal cleared. */
  async reset() {
    await this.call("POST", "/reset");
  }

  /** Without an argument, the active scenario. With an object (scenario fields) or the path
   * of a scenario file (YAML or JSON), replaces it and resolves with what the mock now runs. */
  async scenario(spec) {
    if (spec === undefined) return this.call("GET", "/scenario");
    const body = typeof spec === "string" || spec instanceof URL ? await readFile(spec) : JSON.stringify(spec);
    return this.call("PUT", "/scenario", body);
  }

  async call(method, path, body) {
    const url = this.adminUrl + path;
    const init = { method, signal: AbortSignal.timeout(ADMIN_TIMEOUT_MS) };
    if (body !== undefined) {
      init.body = body;
      init.headers = { "Content-Type": "application/json" };
    }
    const res = await fetch(url, init);
    const text = await res.text();
    if (!res.ok) throw new MockAdminError(method, url, res.status, detailOf(text));
    return text ? JSON.parse(text) : undefined;
  }
}

function detailOf(text) {
  try {
    return String(JSON.parse(text).detail ?? text);
  } catch {
    return text;
  }
}
