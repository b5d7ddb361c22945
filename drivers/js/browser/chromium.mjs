// Chromium launcher and a minimal Chrome DevTools Protocol client over
// --remote-debugging-pipe (fd 3 = commands in, fd 4 = replies out, each a
// NUL-terminated JSON message). The pipe needs no WebSocket library and no
// port, and Chromium exits by itself when the pipe closes, so a driver that
// dies (even by SIGKILL) does not leave a browser behind.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const DEFAULT_BROWSER = "/usr/bin/chromium";

// Flags for a quiet, headless, root-safe browser with no outside traffic.
// Autoplay is allowed so remote video plays without a user gesture, and mDNS
// host candidates are off so a loopback peer can pair with plain addresses.
export const CHROMIUM_FLAGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--no-default-browser-check",
  "--autoplay-policy=no-user-gesture-required",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
  "--remote-debugging-pipe",
];

export class BrowserError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// launchChromium starts the browser with a fresh profile and returns a CDP
// connection. close() kills the process and removes the profile.
export async function launchChromium({ executable = DEFAULT_BROWSER, log = () => {} } = {}) {
  if (!existsSync(executable)) throw new BrowserError("browser_missing", `browser not found: ${executable} (pass --browser PATH)`);
  const profile = mkdtempSync(path.join(tmpdir(), "reactor-harness-chromium-"));
  const args = [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, "about:blank"];
  const proc = spawn(executable, args, { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
  proc.stderr.on("data", (b) => log(`chromium: ${String(b).trimEnd()}`));
  startReaper(proc.pid, profile);
  const cdp = new CdpConnection(proc.stdio[3], proc.stdio[4]);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    cdp.dispose();
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGKILL");
      await new Promise((r) => {
        const t = setTimeout(r, 3000);
        proc.once("exit", () => (clearTimeout(t), r()));
      });
    }
    rmSync(profile, { recursive: true, force: true });
  };
  const spawned = new Promise((resolve, reject) => {
    proc.once("error", (err) => reject(new BrowserError("browser_missing", `cannot start ${executable}: ${err.message}`)));
    proc.once("spawn", resolve);
  });
  try {
    await spawned;
    const version = await cdp.send("Browser.getVersion", {}, { timeoutMs: 15000 });
    return { proc, cdp, profile, version, close };
  } catch (err) {
    await close();
    throw err instanceof BrowserError ? err : new BrowserError("browser_failed", `browser did not answer on its DevTools pipe: ${err.message}`);
  }
}

// REAPER watches the driver from a detached process: once the driver is gone
// (even by SIGKILL, when no cleanup code of its own can run) it kills the
// browser and removes the profile. argv: driver pid, browser pid, profile.
const REAPER = `
const [drv, br, dir] = process.argv.slice(1);
const alive = (p) => { try { process.kill(Number(p), 0); return true; } catch { return false; } };
const t = setInterval(() => {
  if (alive(drv)) return;
  clearInterval(t);
  try { process.kill(Number(br), "SIGKILL"); } catch {}
  setTimeout(() => { require("node:fs").rmSync(dir, { recursive: true, force: true }); }, 300);
}, 200);
`;

function startReaper(browserPid, profile) {
  const child = spawn(process.execPath, ["-e", REAPER, String(process.pid), String(browserPid), profile], { detached: true, stdio: "ignore" });
  child.unref();
}

// CdpConnection sends commands and dispatches events; session-scoped
// messages (flattened target sessions) carry a sessionId.
export class CdpConnection {
  constructor(input, output) {
    this.input = input;
    this.nextId = 1;
    this.waiting = new Map();
    this.listeners = new Set();
    let buf = "";
    output.setEncoding("utf8");
    output.on("data", (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\0")) >= 0) {
        const raw = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.dispatch(raw);
      }
    });
    output.on("close", () => this.failAll("the browser closed its DevTools pipe"));
    input.on("error", () => this.failAll("the browser DevTools pipe broke"));
  }

  dispatch(raw) {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (msg.id !== undefined && this.waiting.has(msg.id)) {
      const w = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      clearTimeout(w.timer);
      if (msg.error) w.reject(new BrowserError("cdp_error", `${w.method}: ${msg.error.message}`));
      else w.resolve(msg.result);
      return;
    }
    for (const fn of this.listeners) fn(msg);
  }

  onEvent(fn) {
    this.listeners.add(fn);
  }

  send(method, params = {}, { sessionId, timeoutMs = 30000 } = {}) {
    if (this.dead) return Promise.reject(new BrowserError("browser_gone", this.dead));
    const id = this.nextId++;
    const msg = { id, method, params, ...(sessionId ? { sessionId } : {}) };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new BrowserError("timeout", `${method} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve, reject, timer, method });
      this.input.write(JSON.stringify(msg) + "\0");
    });
  }

  failAll(why) {
    if (this.dead) return;
    this.dead = why;
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new BrowserError("browser_gone", why));
    }
    this.waiting.clear();
    for (const fn of this.listeners) fn({ method: "_closed", params: { why } });
  }

  dispose() {
    this.failAll("closed by the driver");
    try {
      this.input.end();
    } catch {
      /* already closed */
    }
  }
}
