#!/usr/bin/env node
// reactor-harness driver for the Reactor JavaScript SDK (@reactor-team/js-sdk).
//
// Speaks the driver protocol documented in drivers/PROTOCOL.md: one JSON request per line
// on stdin, one JSON object per line on stdout (replies and events). Everything else the
// process prints goes to stderr. The SDK itself runs unmodified; WebRTC comes from
// @roamhq/wrtc, installed as browser-style globals before the SDK is loaded.
//
// Usage: node driver.mjs [--sdk 2.9.0|2.2.1] [--verbose]
//   env REACTOR_JS_SDK_VERSION  same as --sdk (flag wins)
//   env REACTOR_JS_SDK          path to a local SDK build (package dir or entry file);
//                               overrides the pinned npm package
//   env REACTOR_DRIVER_VERBOSE=1  forward the SDK's console.debug/log/info to stderr
//   env REACTOR_DRIVER_TRACE_HTTP=0  no `http` events
//   env REACTOR_DRIVER_ICE_FILTER=auto|loopback|off  loopback-only ICE candidates in offers
//                               (auto: only when the request goes to a loopback host)

import { createInterface } from "node:readline";
import { readFile } from "node:fs/promises";
import { readFileSync, existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { format, inspect } from "node:util";
import { performance } from "node:perf_hooks";
import { mintSpecProblem, tokenResolver } from "./token-resolver.mjs";

const DRIVER_NAME = "reactor-harness-js";
const DRIVER_VERSION = "0.1.0";
const PROTOCOL_VERSION = 1;
const require = createRequire(import.meta.url);

const T0 = performance.now();
const START_UNIX_MS = Date.now();
const tMs = () => Math.round(performance.now() - T0);

// SDK versions this driver ships with (package aliases in package.json).
const PINNED = {
  "2.9.0": "@reactor-team/js-sdk-290",
  "2.2.1": "@reactor-team/js-sdk-221",
};
const DEFAULT_SDK = "2.9.0";

// ───────────────────────────── command line ─────────────────────────────

function parseArgv(argv) {
  const out = { sdk: undefined, verbose: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--sdk") out.sdk = argv[++i];
    else if (a.startsWith("--sdk=")) out.sdk = a.slice(6);
    else if (a === "--verbose" || a === "-v") out.verbose = true;
    else if (a === "--help" || a === "-h") out.help = true;
  }
  return out;
}

const cli = parseArgv(process.argv.slice(2));
if (cli.help) {
  process.stderr.write(
    "usage: node driver.mjs [--sdk 2.9.0|2.2.1] [--verbose]\n" +
      "Reads driver-protocol requests (JSON lines) on stdin; see drivers/PROTOCOL.md.\n"
  );
  process.exit(0);
}
const VERBOSE = cli.verbose || /^(1|true|yes)$/i.test(process.env.REACTOR_DRIVER_VERBOSE ?? "");

// ───────────────────────────── output ─────────────────────────────

let stdoutBroken = false;
process.stdout.on("error", () => {
  // The harness went away; nothing left to talk to.
  stdoutBroken = true;
  process.exit(0);
});

function safeJson(value) {
  const seen = new WeakSet();
  return JSON.stringify(value, (_k, v) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Error) return { name: v.name, message: v.message };
    if (typeof v === "function") return undefined;
    if (v && typeof v === "object") {
      if (seen.has(v)) return "[circular]";
      seen.add(v);
    }
    return v;
  });
}

let outputClosed = false; // set once the final reply to `quit` is written

function writeLine(obj) {
  if (stdoutBroken || outputClosed) return;
  let line;
  try {
    line = safeJson(obj);
  } catch (err) {
    line = JSON.stringify({ event: "error", t_ms: tMs(), data: { source: "driver", code: "internal", message: `unserializable output: ${err}`, recoverable: true } });
  }
  process.stdout.write(line + "\n");
}

function emit(event, data) {
  writeLine({ event, t_ms: tMs(), data });
}

function logErr(...args) {
  process.stderr.write(`[driver ${tMs()}ms] ${format(...args)}\n`);
}

// ───────────────────────────── console capture ─────────────────────────────
// The SDK logs through console.*. Nothing may reach stdout, so every method is redirected.
// console.warn becomes a `warning` event (e.g. "sendCommand before ready" is only a warning),
// console.error becomes a `log` event at level error.

const warnCollectors = new Set();
function fmtConsole(args) {
  return args
    .map((a) => (typeof a === "string" ? a : inspect(a, { depth: 4, breakLength: Infinity })))
    .join(" ");
}
console.log = console.info = console.debug = console.trace = (...args) => {
  if (VERBOSE) process.stderr.write(`[sdk] ${fmtConsole(args)}\n`);
};
console.warn = (...args) => {
  const message = fmtConsole(args);
  process.stderr.write(`[sdk warn] ${message}\n`);
  for (const c of warnCollectors) c.push(message);
  emit("warning", { message, source: "console.warn" });
};
console.error = (...args) => {
  const message = fmtConsole(args);
  process.stderr.write(`[sdk error] ${message}\n`);
  emit("log", { level: "error", message, source: "console.error" });
};

// Collect console.warn output produced while `fn` runs (concurrent ops may see each other's).
async function withWarnings(fn) {
  const bucket = [];
  warnCollectors.add(bucket);
  try {
    const value = await fn();
    return { value, warnings: bucket };
  } catch (err) {
    err.__warnings = bucket;
    throw err;
  } finally {
    warnCollectors.delete(bucket);
  }
}

// Errors that escape the SDK (un-awaited promises inside it) must not kill the driver.
process.on("unhandledRejection", (reason) => {
  logErr("unhandled rejection:", reason);
  emit("error", { source: "driver", code: "unhandled_rejection", message: String(reason?.message ?? reason), recoverable: true });
});
process.on("uncaughtException", (err) => {
  logErr("uncaught exception:", err);
  emit("error", { source: "driver", code: "uncaught_exception", message: String(err?.message ?? err), recoverable: true });
});

// ───────────────────────────── WebRTC globals ─────────────────────────────

let wrtc = null;
let wrtcError = null;
let wrtcVersion = null;
try {
  wrtc = require("@roamhq/wrtc");
  wrtcVersion = readJson(require.resolve("@roamhq/wrtc/package.json"))?.version ?? null;
  for (const name of [
    "RTCPeerConnection",
    "RTCSessionDescription",
    "RTCIceCandidate",
    "MediaStream",
    "MediaStreamTrack",
    "RTCDataChannel",
    "RTCRtpSender",
    "RTCRtpReceiver",
    "RTCRtpTransceiver",
  ]) {
    if (globalThis[name] === undefined && wrtc[name] !== undefined) globalThis[name] = wrtc[name];
  }
} catch (err) {
  wrtcError = String(err?.message ?? err);
  logErr("cannot load @roamhq/wrtc:", wrtcError);
}

// ───────────────────────────── HTTP tracing ─────────────────────────────
// The SDK calls the global fetch at request time; wrapping it gives an `http` event per call
// (the client-side view of the request journal).

const TRACE_HTTP = !/^(0|false|no)$/i.test(process.env.REACTOR_DRIVER_TRACE_HTTP ?? "1");
const origFetch = globalThis.fetch;

// ICE candidate filter. libwebrtc offers host candidates on every interface. When the SDK
// talks to a server on a loopback address (the harness mock), the driver removes the
// non-loopback candidates from the SDP offer in the request body, so connectivity checks
// stay on 127.0.0.0/8 and ::1. REACTOR_DRIVER_ICE_FILTER=off disables this; =loopback forces it.
const ICE_FILTER = (process.env.REACTOR_DRIVER_ICE_FILTER ?? "auto").toLowerCase();

function isLoopbackHost(host) {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function filterSdpToLoopback(sdp) {
  let removed = 0;
  const lines = sdp.split(/\r\n/).filter((line) => {
    if (!line.startsWith("a=candidate:")) return true;
    const addr = line.split(" ")[4] ?? "";
    if (isLoopbackHost(addr)) return true;
    removed++;
    return false;
  });
  return { sdp: lines.join("\r\n"), removed };
}

function maybeFilterOffer(url, init) {
  if (ICE_FILTER === "off" || typeof init?.body !== "string") return init;
  if (ICE_FILTER !== "loopback") {
    let host;
    try {
      host = new URL(url).hostname;
    } catch {
      return init;
    }
    if (!isLoopbackHost(host)) return init;
  }
  if (!init.body.includes("a=candidate:")) return init;
  let body;
  try {
    body = JSON.parse(init.body);
  } catch {
    return init;
  }
  let removed = 0;
  for (const key of ["sdp_offer", "sdp"]) {
    if (typeof body?.[key] === "string") {
      const r = filterSdpToLoopback(body[key]);
      body[key] = r.sdp;
      removed += r.removed;
    }
  }
  if (removed === 0) return init;
  return { ...init, body: JSON.stringify(body) };
}
const httpLog = [];
const HTTP_LOG_MAX = 500;
if (typeof origFetch === "function") {
  globalThis.fetch = async function tracedFetch(input, init) {
    const method = (init?.method ?? input?.method ?? "GET").toUpperCase();
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input?.url;
    const started = performance.now();
    const entry = { method, url, t_ms: tMs() };
    try {
      const res = await origFetch(input, maybeFilterOffer(url, init));
      entry.status = res.status;
      entry.duration_ms = Math.round(performance.now() - started);
      return res;
    } catch (err) {
      entry.error = String(err?.message ?? err);
      entry.duration_ms = Math.round(performance.now() - started);
      throw err;
    } finally {
      httpLog.push(entry);
      if (httpLog.length > HTTP_LOG_MAX) httpLog.shift();
      if (TRACE_HTTP) emit("http", entry);
    }
  };
}

// ───────────────────────────── SDK loading ─────────────────────────────

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

function findPackageJsonUp(start) {
  let dir = start;
  for (let i = 0; i < 6; i++) {
    const p = path.join(dir, "package.json");
    if (existsSync(p)) return p;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

// Returns { entryUrl, pkgJsonPath, source, requested }.
function resolveSdk() {
  const requested = cli.sdk ?? process.env.REACTOR_JS_SDK_VERSION ?? DEFAULT_SDK;
  const local = process.env.REACTOR_JS_SDK;
  if (local) {
    const abs = path.resolve(local);
    let entry = abs;
    let pkgJsonPath = null;
    if (existsSync(abs) && statSync(abs).isDirectory()) {
      pkgJsonPath = path.join(abs, "package.json");
      const pkg = readJson(pkgJsonPath) ?? {};
      const exp = pkg.exports?.["."];
      const rel =
        (typeof exp === "string" ? exp : exp?.import ?? exp?.default) ?? pkg.module ?? pkg.main ?? "dist/index.mjs";
      entry = path.join(abs, rel);
    } else {
      pkgJsonPath = findPackageJsonUp(path.dirname(abs));
    }
    return { entryUrl: pathToFileURL(entry).href, pkgJsonPath, source: `local:${abs}`, requested };
  }
  const spec = PINNED[requested];
  if (!spec) {
    throw new Error(`unknown SDK version "${requested}"; pinned versions: ${Object.keys(PINNED).join(", ")} (or set REACTOR_JS_SDK)`);
  }
  // The SDK's "exports" map hides package.json, so find it from the resolved entry point.
  const pkgJsonPath = findPackageJsonUp(path.dirname(require.resolve(spec)));
  return { entryUrl: spec, pkgJsonPath, source: `npm:${spec}`, requested };
}

const sdk = { mod: null, loadError: null, name: null, version: null, source: null, requested: null, dts: null, pkgDir: null };
try {
  const r = resolveSdk();
  sdk.source = r.source;
  sdk.requested = r.requested;
  const pkg = r.pkgJsonPath ? readJson(r.pkgJsonPath) : null;
  sdk.name = pkg?.name ?? null;
  sdk.version = pkg?.version ?? null;
  sdk.pkgDir = r.pkgJsonPath ? path.dirname(r.pkgJsonPath) : null;
  sdk.mod = await import(r.entryUrl);
  if (typeof sdk.mod.Reactor !== "function") throw new Error("the SDK module exports no Reactor class");
} catch (err) {
  sdk.loadError = String(err?.message ?? err);
  logErr("cannot load SDK:", sdk.loadError);
}

// ───────────────────────────── API surface ─────────────────────────────

// Names the type declarations mark `private` on class Reactor (TypeScript privacy is not
// visible at run time, so the .d.ts is the only way to tell public from private methods).
// The text of `declare class Reactor { … }` in the SDK's type declarations, or null.
function reactorClassDts() {
  if (!sdk.pkgDir) return null;
  const pkg = readJson(path.join(sdk.pkgDir, "package.json")) ?? {};
  const candidates = [pkg.types, pkg.typings, "dist/index.d.ts", "dist/index.d.mts"].filter(Boolean);
  for (const rel of candidates) {
    const file = path.join(sdk.pkgDir, rel);
    if (!existsSync(file)) continue;
    const text = readFileSync(file, "utf8");
    const start = text.search(/declare class Reactor\s*\{/);
    if (start < 0) continue;
    let depth = 0;
    let end = start;
    for (let i = text.indexOf("{", start); i < text.length; i++) {
      if (text[i] === "{") depth++;
      else if (text[i] === "}") {
        depth--;
        if (depth === 0) {
          end = i;
          break;
        }
      }
    }
    return text.slice(start, end);
  }
  return null;
}

function privateNamesFromDts() {
  const body = reactorClassDts();
  if (body === null) return null;
  const names = new Set();
  for (const m of body.matchAll(/^\s*private\s+(?:readonly\s+)?([A-Za-z_$][\w$]*)/gm)) names.add(m[1]);
  return names;
}

// Whether Reactor.connect accepts a token resolver (a function minting a JWT per request;
// js-sdk >= 2.10 `JwtSource = string | JwtResolver`), read from the declared parameter type:
// a fixed-string SDK would send a function's source text as the bearer token.
function tokenResolverSupport() {
  const body = reactorClassDts();
  const m = body?.match(/^\s*connect\(\s*jwtToken\??\s*:\s*([^,)]+)/m);
  if (!m) return { accepts: false, basis: "none (no connect(jwtToken…) in the type declarations)", declared: null };
  const declared = m[1].trim();
  const accepts = /JwtResolver|JwtSource|=>/.test(declared);
  return { accepts, basis: "d.ts", declared: `connect(jwtToken?: ${declared})` };
}

function apiSurface() {
  if (!sdk.mod) return null;
  const proto = sdk.mod.Reactor.prototype;
  const all = [];
  for (let p = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const n of Object.getOwnPropertyNames(p)) {
      if (n === "constructor" || all.includes(n)) continue;
      const d = Object.getOwnPropertyDescriptor(p, n);
      if (d && typeof d.value === "function") all.push(n);
    }
  }
  const priv = privateNamesFromDts();
  const methods = priv ? all.filter((n) => !priv.has(n)) : all;
  const privateMethods = priv ? all.filter((n) => priv.has(n)) : [];
  const exportsList = Object.keys(sdk.mod).sort();
  // Language-neutral capability keys (drivers/PROTOCOL.md, "API surface") -> JS method names.
  const CANON = {
    connect: ["connect"],
    disconnect: ["disconnect"],
    reconnect: ["reconnect"],
    send_command: ["sendCommand"],
    send_message: ["sendMessage"],
    upload_file: ["uploadFile"],
    publish_track: ["publishTrack"],
    unpublish_track: ["unpublishTrack"],
    get_status: ["getStatus"],
    get_state: ["getState"],
    get_last_error: ["getLastError"],
    get_session_id: ["getSessionId"],
    get_capabilities: ["getCapabilities"],
    get_schema: ["getSchema"],
    get_stats: ["getStats"],
  };
  const has = {};
  for (const [key, names] of Object.entries(CANON)) has[key] = names.some((n) => methods.includes(n));
  const helpers = ["fetchInsecureJwtToken", "fetchInsecureToken"].filter((n) => typeof sdk.mod[n] === "function");
  has.token_helper = helpers.length > 0;
  const resolver = tokenResolverSupport();
  has.token_resolver = resolver.accepts;
  return {
    methods: methods.sort(),
    private_methods: privateMethods.sort(),
    privacy_from: priv ? "d.ts" : "none (all prototype methods listed)",
    exports: exportsList,
    has,
    token_helper: helpers[0] ?? null,
    token_resolver: resolver,
  };
}

function semverParts(v) {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v ?? "");
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

// Which signalling flow the SDK speaks (drivers/PROTOCOL.md, "sdk.protocol") and which
// data-channel codec it uses.
function sdkProtocol(surface) {
  const v = semverParts(sdk.version);
  if (v) {
    if (v[0] === 2 && v[1] <= 2) return { protocol: "legacy", codec: "legacy-json", basis: "version" };
    if (v[0] === 2 && v[1] === 9) return { protocol: "session-poll", codec: "v0-json", basis: "version" };
    if (v[0] === 2 && v[1] >= 10) return { protocol: "connections", codec: "v0-json", basis: "version" };
  }
  if (surface && !surface.has.upload_file && surface.has.token_helper) return { protocol: "legacy", codec: "legacy-json", basis: "surface" };
  return { protocol: "session-poll", codec: "v0-json", basis: "guess" };
}

const SURFACE = apiSurface();
const PROTO = sdkProtocol(SURFACE);
const IS_LEGACY = PROTO.protocol === "legacy";

// ───────────────────────────── session state ─────────────────────────────

const S = {
  reactor: null,
  config: null, // { api_url, model, local }
  status: "disconnected",
  sessionId: null,
  lastError: null,
  capabilities: null,
  lastStats: null,
  tracks: new Map(), // name -> { kind, id, frames, width, height, sink, live }
  fileRefs: new Map(), // upload_id -> FileRef
  statusWaiters: new Set(),
  messages: { application: 0, runtime: 0 },
  tokenMints: 0, // tokens the connect resolver minted
};

function notifyStatus() {
  for (const w of S.statusWaiters) w();
}

// Resolves once status is one of `targets` (or is `disconnected`), or after timeoutMs.
function waitForStatus(targets, timeoutMs) {
  return new Promise((resolve) => {
    const done = (timedOut) => {
      clearTimeout(timer);
      S.statusWaiters.delete(check);
      resolve({ status: S.status, timedOut });
    };
    const check = () => {
      if (targets.includes(S.status) || S.status === "disconnected") done(false);
    };
    const timer = setTimeout(() => done(true), Math.max(0, timeoutMs));
    S.statusWaiters.add(check);
    check();
  });
}

function trackNameFor(track, givenName) {
  if (givenName) return givenName;
  // Older SDKs do not name tracks; use the transceiver mid when the peer connection is reachable.
  const pc = S.reactor?.machineClient?.peerConnection ?? S.reactor?.transportClient?.peerConnection;
  try {
    for (const t of pc?.getTransceivers?.() ?? []) {
      if (t.receiver?.track === track && t.mid != null) return `mid:${t.mid}`;
    }
  } catch {
    /* ignore */
  }
  return track?.kind ?? "unknown";
}

function attachTrack(givenName, track) {
  const name = trackNameFor(track, givenName);
  let rec = S.tracks.get(name);
  if (rec?.sink) {
    try {
      rec.sink.stop();
    } catch {
      /* ignore */
    }
  }
  if (!rec) {
    rec = { kind: track?.kind ?? null, id: null, frames: 0, width: null, height: null, sink: null, live: false, attached: 0 };
    S.tracks.set(name, rec);
  }
  rec.kind = track?.kind ?? rec.kind;
  rec.id = track?.id ?? null;
  rec.attached++;
  rec.live = true;
  rec.sink = null;
  const ns = wrtc?.nonstandard;
  try {
    if (rec.kind === "video" && ns?.RTCVideoSink) {
      const sink = new ns.RTCVideoSink(track);
      sink.onframe = (ev) => {
        rec.frames++;
        const f = ev?.frame;
        if (f) {
          rec.width = f.width;
          rec.height = f.height;
        }
      };
      rec.sink = sink;
    } else if (rec.kind === "audio" && ns?.RTCAudioSink) {
      const sink = new ns.RTCAudioSink(track);
      sink.ondata = () => {
        rec.frames++;
      };
      rec.sink = sink;
    }
  } catch (err) {
    logErr(`cannot attach sink to track ${name}:`, err);
  }
  emit("track", { name, kind: rec.kind, id: rec.id, named_by: givenName ? "sdk" : "driver" });
}

function stopSinks() {
  for (const rec of S.tracks.values()) {
    if (rec.sink) {
      try {
        rec.sink.stop();
      } catch {
        /* ignore */
      }
      rec.sink = null;
    }
    rec.live = false;
  }
}

function frameCounts() {
  const out = {};
  for (const [name, rec] of S.tracks) out[name] = rec.frames;
  return out;
}

let lastFramesJson = "{}";
const framesTimer = setInterval(() => {
  if (S.tracks.size === 0) return;
  const counts = frameCounts();
  const j = JSON.stringify(counts);
  if (j !== lastFramesJson) {
    lastFramesJson = j;
    emit("frames", counts);
  }
}, 500);
framesTimer.unref();

function sdkErrorData(e) {
  if (!e || typeof e !== "object") return { source: "sdk", code: "UNKNOWN", message: String(e), recoverable: false };
  const out = {
    source: "sdk",
    code: e.code ?? "UNKNOWN",
    message: e.message ?? String(e),
    recoverable: e.recoverable ?? null,
  };
  if (e.component !== undefined) out.component = e.component;
  if (e.retryAfter !== undefined) out.retry_after = e.retryAfter;
  if (e.timestamp !== undefined) out.timestamp = e.timestamp;
  return out;
}

function attachReactorListeners(reactor) {
  const on = (ev, fn) => {
    try {
      reactor.on(ev, (...a) => {
        if (S.reactor !== reactor) return; // events from a replaced instance
        try {
          fn(...a);
        } catch (err) {
          logErr(`handler for ${ev} failed:`, err);
        }
      });
    } catch (err) {
      logErr(`cannot subscribe to ${ev}:`, err);
    }
  };
  on("statusChanged", (status) => {
    S.status = status;
    emit("status", status);
    if (status === "disconnected") stopSinks();
    notifyStatus();
  });
  on("sessionIdChanged", (id) => {
    S.sessionId = id ?? null;
    emit("session_id", id ?? null);
  });
  // 2.9.0+: `message` (application scope) and `runtimeMessage`; 2.2.1: `newMessage`.
  on("message", (msg) => {
    S.messages.application++;
    emit("message", msg);
  });
  on("newMessage", (msg) => {
    S.messages.application++;
    emit("message", msg);
  });
  on("runtimeMessage", (msg) => {
    S.messages.runtime++;
    emit("runtime_message", msg);
  });
  on("error", (e) => {
    S.lastError = sdkErrorData(e);
    emit("error", S.lastError);
  });
  // 2.9.0+: trackReceived(name, track, stream); 2.2.1: streamChanged(track, stream).
  on("trackReceived", (name, track) => attachTrack(name, track));
  on("streamChanged", (track) => attachTrack(null, track));
  on("capabilitiesReceived", (caps) => {
    S.capabilities = caps ?? null;
    emit("capabilities", caps ?? null);
  });
  on("sessionExpirationChanged", (exp) => emit("session_expiration", exp ?? null));
  on("statsUpdate", (stats) => {
    S.lastStats = stats ?? null;
  });
}

// ───────────────────────────── helpers for ops ─────────────────────────────

class OpError extends Error {
  constructor(code, message, details) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

function need(args, key, type) {
  const v = args[key];
  if (v === undefined || v === null) throw new OpError("bad_args", `missing argument "${key}"`);
  if (type && typeof v !== type) throw new OpError("bad_args", `argument "${key}" must be a ${type}`);
  return v;
}

function opt(args, key, type) {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (type && typeof v !== type) throw new OpError("bad_args", `argument "${key}" must be a ${type}`);
  return v;
}

function requireSdk() {
  if (!sdk.mod) throw new OpError("sdk_load_failed", `SDK not loaded: ${sdk.loadError}`);
}

function requireReactor() {
  if (!S.reactor) throw new OpError("bad_state", "no Reactor instance: call create or connect first");
  return S.reactor;
}

function sdkFailure(err, extra) {
  const e = new OpError("sdk_error", String(err?.message ?? err), {
    name: err?.name,
    status: S.status,
    last_error: S.lastError,
    ...(err?.__warnings?.length ? { warnings: err.__warnings } : {}),
    ...extra,
  });
  return e;
}

function privateField(obj, ...names) {
  for (const n of names) if (obj && obj[n] !== undefined) return obj[n];
  return undefined;
}

// The base URL the SDK instance actually uses (2.2.1 forces http://localhost:8080 in local mode).
function effectiveBaseUrl() {
  return privateField(S.reactor, "coordinatorUrl", "apiUrl", "baseUrl") ?? null;
}

function createReactor(args) {
  requireSdk();
  const model = need(args, "model", "string");
  const local = opt(args, "local", "boolean") ?? false;
  const apiUrl = opt(args, "api_url", "string");
  if (!local && apiUrl === undefined) throw new OpError("bad_args", 'missing argument "api_url" (required unless local)');
  const extra = opt(args, "options", "object") ?? {};
  const options = { modelName: model, local, ...extra };
  if (apiUrl !== undefined) {
    // 2.2.1 calls the base URL `coordinatorUrl`; later versions call it `apiUrl`.
    if (IS_LEGACY) options.coordinatorUrl = apiUrl;
    else options.apiUrl = apiUrl;
  }
  let reactor;
  try {
    reactor = new sdk.mod.Reactor(options);
  } catch (err) {
    throw sdkFailure(err, { phase: "constructor" });
  }
  stopSinks();
  S.reactor = reactor;
  S.config = { api_url: apiUrl ?? null, model, local };
  S.status = typeof reactor.getStatus === "function" ? reactor.getStatus() : "disconnected";
  S.sessionId = null;
  S.lastError = null;
  S.capabilities = null;
  S.lastStats = null;
  S.tracks = new Map();
  lastFramesJson = "{}";
  attachReactorListeners(reactor);
  return reactor;
}

function sameConfig(args) {
  const c = S.config;
  return (
    c &&
    c.model === args.model &&
    (c.api_url ?? null) === (args.api_url ?? null) &&
    c.local === (args.local ?? false)
  );
}

// Mint a JWT. Prefer the SDK's own helper when it has one; otherwise follow the current docs.
async function mintToken(args) {
  const apiUrl = need(args, "api_url", "string").replace(/\/+$/, "");
  const apiKey = need(args, "api_key", "string");
  const mode = opt(args, "mode", "string") ?? "auto";
  if (!["auto", "sdk", "post", "get"].includes(mode)) throw new OpError("bad_args", `mode must be auto, sdk, post or get`);
  // Scoped tokens (PROTOCOL.md §9.1) are minted by a backend with its own body; this SDK's
  // helper cannot ask for one, so a scope argument is not silently dropped.
  const scoped = ["models", "sessions", "max_sessions", "max_session_duration_seconds"].filter((k) => args[k] != null);
  if (scoped.length > 0) throw new OpError("not_supported", `this SDK has no scoped-token helper (asked: ${scoped.join(", ")}); send a scoped body with mode "post"`);
  const helper = sdk.mod?.fetchInsecureJwtToken;
  if ((mode === "auto" && typeof helper === "function") || mode === "sdk") {
    if (typeof helper !== "function") throw new OpError("not_supported", "this SDK exports no fetchInsecureJwtToken helper");
    try {
      const jwt = await helper(apiKey, apiUrl);
      return { jwt, via: "sdk:fetchInsecureJwtToken", request: "GET /tokens (X-API-Key)" };
    } catch (err) {
      throw sdkFailure(err, { phase: "token" });
    }
  }
  // No SDK helper: do what the platform documentation tells a backend to do.
  const method = mode === "get" ? "GET" : "POST";
  const headers = method === "GET" ? { "X-API-Key": apiKey } : { "Reactor-API-Key": apiKey };
  const init = { method, headers };
  const body = opt(args, "body", "object");
  if (method === "POST" && body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`${apiUrl}/tokens`, init);
  } catch (err) {
    throw new OpError("http_error", `token request failed: ${err?.message ?? err}`);
  }
  const text = await res.text();
  if (!res.ok) throw new OpError("http_error", `token request answered ${res.status}: ${text.slice(0, 500)}`, { status: res.status });
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new OpError("http_error", `token response is not JSON: ${text.slice(0, 200)}`, { status: res.status });
  }
  if (typeof json?.jwt !== "string" || json.jwt === "") throw new OpError("http_error", "token response has no jwt", { status: res.status });
  const out = {
    jwt: json.jwt,
    via: method === "POST" ? "driver:POST /tokens" : "driver:GET /tokens",
    request: method === "POST" ? "POST /tokens (Reactor-API-Key)" : "GET /tokens (X-API-Key)",
    note: "the SDK has no token helper; the driver made the documented request itself",
  };
  if (json.expires_at !== undefined) out.expires_at = json.expires_at;
  if (json.expires_after !== undefined) out.expires_after = json.expires_after;
  return out;
}

// tokenResolverFor builds the resolver connect hands the SDK (token-resolver.mjs), minting
// through the driver's documented POST /tokens request.
function tokenResolverFor(apiUrl, apiKey, token) {
  const problem = mintSpecProblem(token);
  if (problem) throw new OpError("bad_args", problem);
  return tokenResolver(
    (body) => mintToken({ api_url: apiUrl, api_key: apiKey, mode: "post", body }),
    token.mint,
    (t) => {
      S.tokenMints++;
      emit("token_minted", { n: S.tokenMints, expires_at: t.expires_at ?? null });
    }
  );
}

async function settleAfter(promiseFn, args, defaultTimeout) {
  const wait = opt(args, "wait", "string") ?? "ready";
  if (!["ready", "resolve"].includes(wait)) throw new OpError("bad_args", 'wait must be "ready" or "resolve"');
  const timeoutMs = opt(args, "timeout_ms", "number") ?? defaultTimeout;
  const started = performance.now();
  const { warnings } = await withWarnings(promiseFn);
  const resolvedMs = Math.round(performance.now() - started);
  let timedOut = false;
  if (wait === "ready" && S.status !== "ready" && S.status !== "disconnected") {
    const r = await waitForStatus(["ready"], timeoutMs);
    timedOut = r.timedOut;
  }
  const result = {
    status: S.status,
    ready: S.status === "ready",
    session_id: S.sessionId,
    resolved_ms: resolvedMs,
    elapsed_ms: Math.round(performance.now() - started),
    warnings,
    last_error: S.lastError,
  };
  if (timedOut) throw new OpError("timeout", `status is still "${S.status}" ${timeoutMs} ms after the SDK call returned`, result);
  return result;
}

async function readUploadBytes(args) {
  if (typeof args.path === "string") {
    try {
      return await readFile(args.path);
    } catch (err) {
      throw new OpError("bad_args", `cannot read ${args.path}: ${err.message}`);
    }
  }
  if (typeof args.base64 === "string") return Buffer.from(args.base64, "base64");
  if (typeof args.text === "string") return Buffer.from(args.text, "utf8");
  throw new OpError("bad_args", 'give one of "path", "base64" or "text"');
}

function mergeFileRefs(args, data) {
  const refs = opt(args, "file_refs", "object");
  if (!refs) return data;
  const out = data && typeof data === "object" && !Array.isArray(data) ? { ...data } : {};
  for (const [param, uploadId] of Object.entries(refs)) {
    const ref = S.fileRefs.get(uploadId);
    if (!ref) throw new OpError("bad_args", `unknown upload id "${uploadId}" in file_refs (upload it with upload_file first)`);
    out[param] = ref;
  }
  return out;
}

function closePeerConnectionsLocally() {
  // Close without any HTTP: used on quit / EOF so no native threads outlive us.
  const r = S.reactor;
  for (const client of [r?.transportClient, r?.machineClient]) {
    try {
      client?.dataChannel?.close?.();
    } catch {
      /* ignore */
    }
    try {
      client?.peerConnection?.close?.();
    } catch {
      /* ignore */
    }
  }
  stopSinks();
}

// ───────────────────────────── ops ─────────────────────────────

const OPS = {
  async hello() {
    return {
      driver: { name: DRIVER_NAME, version: DRIVER_VERSION, protocol: PROTOCOL_VERSION, language: "javascript" },
      sdk: {
        name: sdk.name,
        version: sdk.version,
        requested: sdk.requested,
        source: sdk.source,
        generation: semverParts(sdk.version) ? `${semverParts(sdk.version)[0]}.x` : null,
        protocol: PROTO.protocol,
        protocol_basis: PROTO.basis,
        codec: PROTO.codec,
        loaded: !!sdk.mod,
        load_error: sdk.loadError,
      },
      surface: SURFACE,
      runtime: {
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        webrtc: wrtc ? `@roamhq/wrtc ${wrtcVersion}` : null,
        webrtc_error: wrtcError,
        node_env: process.env.NODE_ENV ?? null,
      },
      ops: Object.keys(OPS),
      events: ["started", "status", "session_id", "message", "runtime_message", "error", "track", "frames", "warning", "log", "capabilities", "session_expiration", "http", "token_minted"],
      start_unix_ms: START_UNIX_MS,
    };
  },

  async token(args) {
    return mintToken(args);
  },

  async create(args) {
    if (S.reactor && S.status !== "disconnected") throw new OpError("bad_state", `the current instance is "${S.status}"; disconnect it first`);
    createReactor(args);
    return { status: S.status, base_url: effectiveBaseUrl(), sdk_version: sdk.version };
  },

  async connect(args) {
    requireSdk();
    if (!wrtc) throw new OpError("not_supported", `WebRTC is unavailable: ${wrtcError}`);
    for (const k of ["session_id", "connection_id"]) {
      if (args[k] != null) throw new OpError("not_supported", `this SDK's connect() cannot adopt an existing session (${k})`);
    }
    const fresh = opt(args, "fresh", "boolean") ?? false;
    if (fresh || !S.reactor || !sameConfig(args)) {
      if (S.reactor && S.status !== "disconnected" && !fresh) {
        throw new OpError("bad_state", `the current instance (${S.config?.model} at ${S.config?.api_url}) is "${S.status}"; disconnect it or pass fresh:true`);
      }
      if (S.reactor && fresh) closePeerConnectionsLocally();
      createReactor(args);
    }
    const reactor = S.reactor;
    let jwt = args.jwt;
    if (jwt !== undefined && jwt !== null && typeof jwt !== "string") throw new OpError("bad_args", 'argument "jwt" must be a string');
    if (jwt === null) jwt = undefined;
    let tokenInfo = null;
    const token = opt(args, "token", "object");
    if (token !== undefined) {
      const problem = mintSpecProblem(token);
      if (problem) throw new OpError("bad_args", problem);
      if (jwt !== undefined) throw new OpError("bad_args", 'arguments "token" and "jwt" exclude each other');
      const resolver = SURFACE?.token_resolver;
      if (!resolver?.accepts) {
        throw new OpError("not_supported", `SDK ${sdk.name ?? "?"} ${sdk.version ?? "?"} accepts no token resolver: ${resolver?.declared ?? resolver?.basis ?? "no type declarations"}`);
      }
      jwt = tokenResolverFor(need(args, "api_url", "string").replace(/\/+$/, ""), need(args, "api_key", "string"), token);
      tokenInfo = { via: "driver:resolver POST /tokens" };
    }
    if (jwt === undefined && typeof args.api_key === "string" && !(args.local ?? false)) {
      tokenInfo = await mintToken({ api_url: args.api_url, api_key: args.api_key, mode: args.token_mode });
      jwt = tokenInfo.jwt;
    }
    const maxAttempts = opt(args, "max_attempts", "number");
    const connectOptions = maxAttempts !== undefined ? { maxAttempts } : undefined;
    let result;
    try {
      result = await settleAfter(() => reactor.connect(jwt, connectOptions), args, 30000);
    } catch (err) {
      if (err instanceof OpError) throw err;
      throw sdkFailure(err, { phase: "connect" });
    }
    result.base_url = effectiveBaseUrl();
    result.tracks = [...S.tracks.keys()];
    if (S.capabilities) result.capabilities = S.capabilities;
    if (tokenInfo) result.token_via = tokenInfo.via;
    return result;
  },

  async send_command(args) {
    const reactor = requireReactor();
    const name = need(args, "name", "string");
    let data = args.data === undefined ? {} : args.data;
    data = mergeFileRefs(args, data);
    const scope = opt(args, "scope", "string");
    let method;
    let call;
    if (typeof reactor.sendCommand === "function") {
      method = "sendCommand";
      call = () => (scope !== undefined ? reactor.sendCommand(name, data, scope) : reactor.sendCommand(name, data));
    } else if (typeof reactor.sendMessage === "function") {
      method = "sendMessage";
      if (scope !== undefined) throw new OpError("not_supported", "this SDK's sendMessage has no scope");
      call = () => reactor.sendMessage({ type: name, data });
    } else {
      throw new OpError("not_supported", "this SDK has neither sendCommand nor sendMessage");
    }
    const statusAtCall = S.status;
    try {
      const { value, warnings } = await withWarnings(call);
      return { method, status_at_call: statusAtCall, warnings, returned: value ?? null };
    } catch (err) {
      throw sdkFailure(err, { phase: "send_command", method });
    }
  },

  async upload_file(args) {
    const reactor = requireReactor();
    if (typeof reactor.uploadFile !== "function") throw new OpError("not_supported", `SDK ${sdk.version} has no uploadFile`);
    const bytes = await readUploadBytes(args);
    const name = opt(args, "name", "string") ?? (typeof args.path === "string" ? path.basename(args.path) : undefined);
    const type = opt(args, "mime_type", "string") ?? "";
    const file = name !== undefined ? new File([bytes], name, { type }) : new Blob([bytes], { type });
    try {
      const { value: ref, warnings } = await withWarnings(() => reactor.uploadFile(file));
      const uploadId = ref?.uploadId ?? ref?.upload_id;
      if (uploadId !== undefined) S.fileRefs.set(uploadId, ref);
      return {
        upload_id: uploadId ?? null,
        name: ref?.name ?? null,
        mime_type: ref?.mimeType ?? ref?.mime_type ?? null,
        size: ref?.size ?? null,
        warnings,
      };
    } catch (err) {
      throw sdkFailure(err, { phase: "upload_file" });
    }
  },

  async reconnect(args) {
    const reactor = requireReactor();
    if (typeof reactor.reconnect !== "function") throw new OpError("not_supported", "this SDK has no reconnect");
    const maxAttempts = opt(args, "max_attempts", "number");
    try {
      return await settleAfter(
        () => (maxAttempts !== undefined ? reactor.reconnect({ maxAttempts }) : reactor.reconnect()),
        args,
        30000
      );
    } catch (err) {
      if (err instanceof OpError) throw err;
      throw sdkFailure(err, { phase: "reconnect" });
    }
  },

  async disconnect(args) {
    const reactor = requireReactor();
    const recoverable = opt(args, "recoverable", "boolean") ?? false;
    try {
      const { warnings } = await withWarnings(() => reactor.disconnect(recoverable));
      if (S.status === "disconnected") stopSinks();
      return { status: S.status, session_id: S.sessionId, recoverable, warnings };
    } catch (err) {
      throw sdkFailure(err, { phase: "disconnect" });
    }
  },

  async state() {
    const r = S.reactor;
    const tracks = {};
    for (const [name, rec] of S.tracks) {
      tracks[name] = { kind: rec.kind, id: rec.id, frames: rec.frames, width: rec.width, height: rec.height, live: rec.live, attached: rec.attached };
    }
    let sdkStatus = null;
    let sdkSession = null;
    let sdkLastError = null;
    try {
      sdkStatus = r?.getStatus?.() ?? null;
      sdkSession = r?.getSessionId?.() ?? null;
      sdkLastError = r?.getLastError?.() ?? null;
    } catch {
      /* ignore */
    }
    return {
      has_instance: !!r,
      config: S.config,
      base_url: r ? effectiveBaseUrl() : null,
      status: sdkStatus ?? S.status,
      session_id: sdkSession ?? S.sessionId,
      frames: frameCounts(),
      tracks,
      messages: S.messages,
      token_mints: S.tokenMints,
      last_error: sdkLastError ? sdkErrorData(sdkLastError) : S.lastError,
      capabilities: S.capabilities,
      stats: S.lastStats,
      file_refs: [...S.fileRefs.keys()],
      http: httpLog.slice(-50),
    };
  },

  async quit(args) {
    const disconnectFirst = opt(args, "disconnect", "boolean") ?? false;
    if (disconnectFirst && S.reactor && (S.status !== "disconnected" || S.sessionId)) {
      await Promise.race([
        Promise.resolve()
          .then(() => S.reactor.disconnect(false))
          .catch((err) => logErr("disconnect on quit failed:", err)),
        new Promise((r) => setTimeout(r, 5000)),
      ]);
    }
    return { bye: true };
  },
};

// ───────────────────────────── request loop ─────────────────────────────

let shuttingDown = false;
const pending = new Map(); // id -> op name

function reply(id, ok, payload) {
  if (ok) writeLine({ id, ok: true, t_ms: tMs(), result: payload ?? {} });
  else writeLine({ id, ok: false, t_ms: tMs(), error: payload });
}

async function handleLine(line) {
  const trimmed = line.trim();
  if (trimmed === "") return;
  let req;
  try {
    req = JSON.parse(trimmed);
  } catch (err) {
    emit("error", { source: "driver", code: "bad_json", message: `cannot parse request line: ${err.message}`, line: trimmed.slice(0, 200), recoverable: true });
    return;
  }
  if (req === null || typeof req !== "object" || Array.isArray(req)) {
    emit("error", { source: "driver", code: "bad_request", message: "a request must be a JSON object", line: trimmed.slice(0, 200), recoverable: true });
    return;
  }
  const { id, op } = req;
  if (id === undefined || id === null || (typeof id !== "number" && typeof id !== "string")) {
    emit("error", { source: "driver", code: "bad_request", message: 'a request needs an "id" (number or string)', line: trimmed.slice(0, 200), recoverable: true });
    return;
  }
  if (typeof op !== "string") {
    reply(id, false, { code: "bad_request", message: 'a request needs an "op" string' });
    return;
  }
  if (shuttingDown) {
    reply(id, false, { code: "shutting_down", message: "the driver is exiting" });
    return;
  }
  const handler = Object.prototype.hasOwnProperty.call(OPS, op) ? OPS[op] : undefined;
  if (!handler) {
    reply(id, false, { code: "unknown_op", message: `unknown op "${op}"`, details: { ops: Object.keys(OPS) } });
    return;
  }
  const args = req.args === undefined || req.args === null ? {} : req.args;
  if (typeof args !== "object" || Array.isArray(args)) {
    reply(id, false, { code: "bad_args", message: '"args" must be a JSON object' });
    return;
  }
  pending.set(id, op);
  try {
    const result = await handler(args);
    if (op === "quit") {
      // Every other in-flight request is answered first; the reply to quit is the last line.
      pending.delete(id);
      shutdown(0, "quit", () => reply(id, true, result));
      return;
    }
    if (pending.has(id)) reply(id, true, result);
  } catch (err) {
    if (pending.has(id)) {
      if (err instanceof OpError) {
        reply(id, false, { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) });
      } else {
        logErr(`op ${op} failed:`, err);
        reply(id, false, { code: "internal", message: String(err?.message ?? err) });
      }
    }
  } finally {
    pending.delete(id);
  }
}

function shutdown(code, why, finalWrite) {
  if (shuttingDown) return;
  shuttingDown = true;
  logErr(`exiting (${why})`);
  for (const [id, op] of pending) {
    reply(id, false, { code: "aborted", message: `driver exiting (${why}) before "${op}" finished` });
  }
  pending.clear();
  if (finalWrite) finalWrite();
  outputClosed = true;
  clearInterval(framesTimer);
  closePeerConnectionsLocally();
  // Hard stop in case a native handle keeps the loop alive.
  setTimeout(() => process.exit(code), 2000).unref();
  if (stdoutBroken) process.exit(code);
  process.stdout.write("", () => process.exit(code));
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  handleLine(line).catch((err) => {
    logErr("request handling failed:", err);
    emit("error", { source: "driver", code: "internal", message: String(err?.message ?? err), recoverable: true });
  });
});
rl.on("close", async () => {
  // stdin EOF: give in-flight ops a short, bounded grace period, then exit.
  const deadline = Date.now() + 3000;
  while (pending.size > 0 && Date.now() < deadline && !shuttingDown) {
    await new Promise((r) => setTimeout(r, 25));
  }
  shutdown(0, "stdin closed");
});
process.on("SIGTERM", () => shutdown(0, "SIGTERM"));
process.on("SIGINT", () => shutdown(130, "SIGINT"));

emit("started", { driver: DRIVER_NAME, sdk_version: sdk.version, sdk_loaded: !!sdk.mod, pid: process.pid });
