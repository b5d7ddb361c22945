// Test helpers: spawn the driver and talk the driver protocol to it, with bounded waits.
import { spawn } from "node:child_process";
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
