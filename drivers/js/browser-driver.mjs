#!/usr/bin/env node
// reactor-harness JS driver, browser host: the same request/reply protocol
// as driver.mjs (drivers/PROTOCOL.md), but the pinned SDK runs inside
// headless Chromium. The host bundles browser/page.mjs with the SDK (esbuild,
// from the locked node_modules), serves it on loopback, drives the page over
// the DevTools pipe, and turns page bindings, console errors and crashes into
// events.
//
//   node browser-driver.mjs --sdk 2.9.0 [--browser /usr/bin/chromium]
import { createInterface } from "node:readline";
import { createServer } from "node:http";
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { launchChromium, DEFAULT_BROWSER, BrowserError } from "./browser/chromium.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const PINNED = { "2.9.0": "@reactor-team/js-sdk-290", "2.2.1": "@reactor-team/js-sdk-221" };
const T0 = performance.now();
const tMs = () => Math.round(performance.now() - T0);

function parseArgv(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--sdk") out.sdk = argv[++i];
    else if (argv[i] === "--browser") out.browser = argv[++i];
    else if (argv[i] === "--help") out.help = true;
  }
  return out;
}
const cli = parseArgv(process.argv.slice(2));
if (cli.help) {
  process.stderr.write("usage: node browser-driver.mjs [--sdk 2.9.0|2.2.1] [--browser PATH]\n");
  process.exit(0);
}
const sdkVersion = cli.sdk ?? process.env.REACTOR_JS_SDK_VERSION ?? "2.9.0";
const browserPath = cli.browser ?? process.env.REACTOR_BROWSER ?? DEFAULT_BROWSER;

let outputClosed = false;
const writeLine = (o) => outputClosed || process.stdout.write(JSON.stringify(o) + "\n");
const emit = (event, data) => writeLine({ event, t_ms: tMs(), data: data ?? null });
const logErr = (...a) => process.stderr.write(`[browser-driver ${tMs()}ms] ${a.join(" ")}\n`);

// bundlePage builds page.mjs with the selected SDK into one browser script.
async function bundlePage(version) {
  const spec = PINNED[version];
  if (!spec) throw new BrowserError("sdk_load_failed", `unknown SDK version "${version}"; pinned: ${Object.keys(PINNED).join(", ")}`);
  const esbuild = await import("esbuild");
  const entry = require.resolve(spec, { paths: [HERE] });
  const out = await esbuild.build({
    entryPoints: [path.join(HERE, "browser", "page.mjs")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "chrome120",
    define: { "process.env.NODE_ENV": '"production"' },
    nodePaths: [path.join(HERE, "node_modules")],
    plugins: [{
      name: "reactor-sdk",
      setup(b) {
        b.onResolve({ filter: /^reactor-sdk$/ }, () => ({ path: entry }));
        b.onResolve({ filter: /^reactor-sdk-version$/ }, () => ({ path: "v", namespace: "sdkv" }));
        b.onLoad({ filter: /.*/, namespace: "sdkv" }, () => ({ contents: `export const SDK_VERSION = ${JSON.stringify(version)};`, loader: "js" }));
      },
    }],
    logLevel: "silent",
  });
  return out.outputFiles[0].text;
}

// servePage serves the page and its bundle on a loopback port.
function servePage(bundle) {
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>reactor-harness</title></head><body><script type="module" src="/page.js"></script></body></html>';
  const server = createServer((req, res) => {
    if (req.url === "/") res.writeHead(200, { "content-type": "text/html" }).end(html);
    else if (req.url === "/page.js") res.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
    else res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const B = { browser: null, server: null, session: null, ready: null, crashed: null, version: null, loadError: null };

async function openPage() {
  const bundle = await bundlePage(sdkVersion);
  B.server = await servePage(bundle);
  B.browser = await launchChromium({ executable: browserPath, log: logErr });
  const { cdp } = B.browser;
  B.version = B.browser.version.product;
  const targets = await cdp.send("Target.getTargets");
  const page = targets.targetInfos.find((t) => t.type === "page");
  const { sessionId } = await cdp.send("Target.attachToTarget", { targetId: page.targetId, flatten: true });
  B.session = sessionId;
  cdp.onEvent(onCdpEvent);
  const s = { sessionId };
  await cdp.send("Runtime.enable", {}, s);
  await cdp.send("Page.enable", {}, s);
  await cdp.send("Inspector.enable", {}, s);
  await cdp.send("Runtime.addBinding", { name: "__reactorEmit" }, s);
  const url = `http://127.0.0.1:${B.server.address().port}/`;
  const nav = await cdp.send("Page.navigate", { url }, s);
  if (nav.errorText) throw new BrowserError("page_load_failed", `page ${url} did not load: ${nav.errorText}`);
  await waitReady(15000);
}

async function evaluate(expression, timeoutMs = 60000) {
  const r = await B.browser.cdp.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, { sessionId: B.session, timeoutMs });
  if (r.exceptionDetails) throw new BrowserError("page_error", r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
  return r.result.value;
}

async function waitReady(timeoutMs) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (B.crashed) throw new BrowserError("renderer_crashed", B.crashed);
    if (await evaluate("window.__reactorReady === true", 5000)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new BrowserError("page_load_failed", `the page did not become ready within ${timeoutMs} ms`);
}

function onCdpEvent(msg) {
  const p = msg.params ?? {};
  switch (msg.method) {
    case "Runtime.bindingCalled":
      if (p.name === "__reactorEmit") {
        try {
          const { event, data } = JSON.parse(p.payload);
          emit(event, data);
        } catch {
          /* a malformed payload is the page's bug; ignore */
        }
      }
      break;
    case "Runtime.consoleAPICalled":
      if (p.type === "error" || p.type === "warning") {
        const text = (p.args ?? []).map((a) => a.value ?? a.description ?? "").join(" ");
        emit(p.type === "error" ? "error" : "warning", { source: "page:console", code: "console_" + p.type, message: text.slice(0, 2000), recoverable: true });
      }
      break;
    case "Runtime.exceptionThrown":
      emit("error", { source: "page:exception", code: "page_exception", message: (p.exceptionDetails?.exception?.description ?? p.exceptionDetails?.text ?? "").slice(0, 2000), recoverable: true });
      break;
    case "Inspector.targetCrashed":
      B.crashed = "the page's renderer crashed";
      emit("error", { source: "browser", code: "renderer_crashed", message: B.crashed, recoverable: false });
      break;
    case "_closed":
      if (!shuttingDown) emit("error", { source: "browser", code: "browser_gone", message: p.why, recoverable: false });
      break;
  }
}

// packageHello asks driver.mjs for its hello: what the SDK package is
// (name, version, protocol, API surface read with its type declarations)
// does not depend on the host, so it has one implementation.
function packageHello() {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(HERE, "driver.mjs"), "--sdk", sdkVersion], { cwd: HERE, stdio: ["pipe", "pipe", "ignore"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), 20000);
    let buf = "";
    let got = null;
    child.stdout.on("data", (b) => {
      buf += b;
      for (const line of buf.split("\n")) {
        try {
          const m = JSON.parse(line);
          if (m.id === "hello") got = m.result;
        } catch {
          /* partial line */
        }
      }
      if (got) child.stdin.end('{"id":"quit","op":"quit"}\n');
    });
    child.once("exit", () => (clearTimeout(timer), resolve(got)));
    child.once("error", () => (clearTimeout(timer), resolve(null)));
    child.stdin.write('{"id":"hello","op":"hello"}\n');
  });
}
const PACKAGE_HELLO = packageHello();

async function hello() {
  const pkg = await PACKAGE_HELLO;
  const inPage = B.loadError ? null : JSON.parse(await evaluate("JSON.stringify({sdk: window.__reactorSdk, ops: window.__reactorOps})", 5000));
  return {
    driver: { name: "reactor-harness-js-browser", version: "0.1.0", protocol: 1, language: "javascript" },
    sdk: { ...(pkg?.sdk ?? { name: "@reactor-team/js-sdk", version: sdkVersion, requested: sdkVersion }), loaded: !!inPage?.sdk, load_error: B.loadError },
    surface: pkg?.surface ?? null,
    runtime: { browser: B.version, browser_path: browserPath, host: "chromium-headless", node: process.version },
    ops: ["hello", "quit", ...(inPage?.ops ?? []).filter((o) => o !== "quit")],
    events: pkg?.events ?? [],
  };
}

// pageArgs moves what only the host can do (reading a file) out of the args.
async function pageArgs(op, args) {
  if (op !== "upload_file" || typeof args.path !== "string") return args;
  let bytes;
  try {
    bytes = await readFile(args.path);
  } catch (err) {
    throw new BrowserError("bad_args", `cannot read ${args.path}: ${err.message}`);
  }
  const { path: p, ...rest } = args;
  return { name: path.basename(p), ...rest, base64: bytes.toString("base64") };
}

const pending = new Map();
let shuttingDown = false;
const reply = (id, ok, payload) => writeLine(ok ? { id, ok: true, t_ms: tMs(), result: payload ?? {} } : { id, ok: false, t_ms: tMs(), error: payload });

async function runOp(op, args) {
  if (op === "hello") {
    await B.ready.catch(() => {});
    return hello();
  }
  // quit always ends the driver; the page only matters when it is there.
  if (op === "quit" && (B.loadError || B.crashed)) return {};
  try {
    await B.ready;
  } catch (err) {
    throw new BrowserError(err.code ?? "browser_failed", `the browser page is not available: ${err.message}`);
  }
  if (B.crashed) throw new BrowserError("renderer_crashed", B.crashed);
  const ops = JSON.parse(await evaluate("JSON.stringify(window.__reactorOps)", 5000));
  if (!ops.includes(op)) throw Object.assign(new BrowserError("unknown_op", `unknown op "${op}"`), { details: { ops: ["hello", ...ops] } });
  const sent = await pageArgs(op, args);
  const out = JSON.parse(await evaluate(`window.__reactorOp(${JSON.stringify(op)}, ${JSON.stringify(JSON.stringify(sent))})`, 120000));
  if (!out.ok) throw Object.assign(new BrowserError(out.error.code, out.error.message), { details: out.error.details });
  return out.result;
}

async function handleLine(line) {
  if (line.trim() === "") return;
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    emit("error", { source: "driver", code: "bad_json", message: `cannot parse request line: ${err.message}`, recoverable: true });
    return;
  }
  const { id, op } = req ?? {};
  if (typeof id !== "number" && typeof id !== "string") {
    emit("error", { source: "driver", code: "bad_request", message: 'a request needs an "id" (number or string)', recoverable: true });
    return;
  }
  if (typeof op !== "string") return reply(id, false, { code: "bad_request", message: 'a request needs an "op" string' });
  if (shuttingDown) return reply(id, false, { code: "shutting_down", message: "the driver is exiting" });
  const args = req.args ?? {};
  if (typeof args !== "object" || Array.isArray(args)) return reply(id, false, { code: "bad_args", message: '"args" must be a JSON object' });
  pending.set(id, op);
  try {
    const result = await runOp(op, args);
    pending.delete(id);
    if (op === "quit") return shutdown(0, "quit", () => reply(id, true, result));
    reply(id, true, result);
  } catch (err) {
    if (pending.delete(id)) reply(id, false, { code: err.code ?? "internal", message: String(err.message ?? err), ...(err.details ? { details: err.details } : {}) });
  }
}

async function shutdown(code, why, finalWrite) {
  if (shuttingDown) return;
  shuttingDown = true;
  logErr(`exiting (${why})`);
  for (const [id, op] of pending) reply(id, false, { code: "aborted", message: `driver exiting (${why}) before "${op}" finished` });
  pending.clear();
  finalWrite?.();
  outputClosed = true;
  setTimeout(() => process.exit(code), 4000).unref();
  await B.browser?.close().catch(() => {});
  B.server?.close();
  process.stdout.write("", () => process.exit(code));
}

B.ready = openPage();
B.ready.catch((err) => {
  B.loadError = `${err.code ?? "browser_failed"}: ${err.message}`;
  logErr(`browser host failed: ${B.loadError}`);
  emit("error", { source: "driver", code: err.code ?? "browser_failed", message: err.message, recoverable: false });
  B.browser?.close().catch(() => {});
});

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (l) => handleLine(l).catch((err) => logErr("request failed:", err.stack ?? err)));
rl.on("close", async () => {
  const deadline = Date.now() + 3000;
  while (pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  shutdown(0, "stdin closed");
});
process.on("SIGTERM", () => shutdown(0, "SIGTERM"));
process.on("SIGINT", () => shutdown(130, "SIGINT"));
emit("started", { driver: "reactor-harness-js-browser", sdk_version: sdkVersion, pid: process.pid, browser: browserPath });
