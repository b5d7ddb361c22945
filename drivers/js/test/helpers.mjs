// Test helpers: spawn the driver and talk the driver protocol to it, with bounded waits.
import { execFile, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import { fileURLToPath } from "node:url";
import http from "node:http";

export const DRIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "driver.mjs");
export const SDK_VERSIONS = ["2.9.0", "2.2.1"];

export class Driver {
  constructor({ sdk, env = {}, args = [] } = {}) {
    const argv = [DRIVER, ...(sdk ? ["--sdk", sdk] : []), ...args];
    this.child = spawn(process.execPath, argv, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...env },
      cwd: path.dirname(DRIVER),
    });
    this.lines = [];
    this.events = [];
    this.nonJson = [];
    this.stderr = "";
    this.waiters = new Map();
    this.eventWaiters = new Set();
    this.nextId = 1;
    this.child.stderr.on("data", (c) => {
      this.stderr += c;
    });
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => resolve({ code, signal }));
    });
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      this.lines.push(line);
      let obj;
      try {
        obj = JSON.parse(line);
      } catch {
        this.nonJson.push(line);
        return;
      }
      if (obj.event !== undefined) {
        this.events.push(obj);
        for (const w of this.eventWaiters) w(obj);
      } else if (obj.id !== undefined) {
        const w = this.waiters.get(obj.id);
        if (w) {
          this.waiters.delete(obj.id);
          w(obj);
        }
      }
    });
  }

  sendRaw(text) {
    this.child.stdin.write(text);
  }

  request(op, args, timeoutMs = 15000) {
    const id = this.nextId++;
    const msg = { id, op };
    if (args !== undefined) msg.args = args;
    return this.requestRaw(msg, timeoutMs);
  }

  requestRaw(msg, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(msg.id);
        reject(new Error(`no reply to ${JSON.stringify(msg)} within ${timeoutMs} ms; stderr:\n${this.stderr}`));
      }, timeoutMs);
      this.waiters.set(msg.id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.child.stdin.write(JSON.stringify(msg) + "\n");
    });
  }

  waitEvent(pred, timeoutMs = 10000) {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = (ev) => {
        if (pred(ev)) {
          clearTimeout(timer);
          this.eventWaiters.delete(w);
          resolve(ev);
        }
      };
      const timer = setTimeout(() => {
        this.eventWaiters.delete(w);
        reject(new Error(`event not seen within ${timeoutMs} ms; events: ${JSON.stringify(this.events).slice(0, 2000)}`));
      }, timeoutMs);
      this.eventWaiters.add(w);
    });
  }

  async waitExit(timeoutMs = 5000) {
    let timer;
    const t = new Promise((resolve) => {
      timer = setTimeout(() => resolve({ timeout: true }), timeoutMs);
    });
    const r = await Promise.race([this.exited, t]);
    clearTimeout(timer);
    return r;
  }

  kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

// A minimal loopback HTTP endpoint: answers /tokens (both styles) and 404s everything else,
// recording each request. Enough for token minting and for "what does an old SDK ask first".
export async function startTokenServer() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.setHeader("content-type", "application/json");
      if (req.url === "/tokens" && req.method === "POST" && req.headers["reactor-api-key"] === "rk_test") {
        res.end(JSON.stringify({ jwt: "jwt-post", expires_at: 1900000000, expires_after: 21600 }));
      } else if (req.url === "/tokens" && req.method === "GET" && req.headers["x-api-key"] === "rk_test") {
        res.end(JSON.stringify({ jwt: "jwt-get" }));
      } else if (req.url === "/tokens") {
        res.statusCode = 401;
        res.end(JSON.stringify({ detail: "invalid API key" }));
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ detail: "Not Found" }));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

// ───────────── the reactor-harness mock, for end-to-end tests ─────────────

// Root of the reactor-harness repository (this file is drivers/js/test/helpers.mjs).
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

// Returns the path of a reactor-harness binary: REACTOR_HARNESS_BIN when set, else a fresh
// `go build` of ./cmd/reactor-harness into dir (bounded by timeoutMs).
export async function harnessBinary(dir, timeoutMs = 170000) {
  if (process.env.REACTOR_HARNESS_BIN) return process.env.REACTOR_HARNESS_BIN;
  const bin = path.join(dir, "reactor-harness");
  await new Promise((resolve, reject) => {
    execFile(
      process.env.GO ?? "go",
      ["build", "-o", bin, "./cmd/reactor-harness"],
      { cwd: REPO_ROOT, timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`go build ./cmd/reactor-harness in ${REPO_ROOT} failed: ${err.message}\n${stderr}`));
        else resolve();
      }
    );
  });
  return bin;
}

// Starts `reactor-harness mock --listen 127.0.0.1:0` and waits (bounded) for its URL and API
// key. Returns {url, apiKey, journal(query), sessions(), stop(), stdout(), stderr()}; stop() is
// idempotent (SIGTERM, then SIGKILL after 5 s).
export async function startMock(bin, { timeoutMs = 15000, args = [] } = {}) {
  const child = spawn(bin, ["mock", "--listen", "127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (c) => (err += c));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const stop = async () => {
    process.removeListener("exit", killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    let timer;
    const late = new Promise((resolve) => (timer = setTimeout(() => resolve("late"), 5000)));
    if ((await Promise.race([exited, late])) === "late") {
      child.kill("SIGKILL");
      await exited;
    }
    clearTimeout(timer);
  };
  let url;
  let apiKey;
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mock printed no URL/key within ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot start ${bin}: ${e.message}`));
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`mock exited early (code ${code}, signal ${signal}); stderr:\n${err}`));
      });
      child.stdout.on("data", (c) => {
        out += c;
        url ??= /^mock Reactor listening on (\S+)$/m.exec(out)?.[1];
        apiKey ??= /^api key: (\S+)$/m.exec(out)?.[1];
        if (url && apiKey) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (e) {
    await stop();
    throw e;
  }
  const admin = async (p) => {
    const res = await fetch(url + p, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`GET ${p}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  return {
    url,
    apiKey,
    // GET /__admin/requests with the given filters (session_id, method, path_prefix, channel, since).
    journal: (query = {}) => admin(`/__admin/requests?${new URLSearchParams(query)}`),
    sessions: () => admin("/__admin/sessions"),
    stop,
    stdout: () => out,
    stderr: () => err,
  };
}

// Polls check() every 100 ms until it returns a truthy value (returned) or timeoutMs passes;
// then throws with describe() (the last observed state) in the message.
export async function eventually(check, { timeoutMs = 3000, describe = () => "" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() >= deadline) throw new Error(`condition not met within ${timeoutMs} ms${describe ? `: ${await describe()}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
