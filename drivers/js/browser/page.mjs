// Page side of the browser host: the pinned SDK, bundled by esbuild, runs in
// Chromium as an application would run it. Ops arrive from the host through
// window.__reactorOp and events leave through the CDP binding
// window.__reactorEmit. "reactor-sdk" is an esbuild alias for the selected
// pinned package.
import * as SDK from "reactor-sdk";
import { SDK_VERSION } from "reactor-sdk-version";

const S = {
  reactor: null,
  config: null,
  status: "disconnected",
  sessionId: null,
  lastError: null,
  capabilities: null,
  messages: { application: 0, runtime: 0 },
  tracks: new Map(),
  fileRefs: new Map(),
};
const LEGACY = SDK_VERSION.startsWith("2.2.");

class OpError extends Error {
  constructor(code, message, details) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

function emit(event, data) {
  try {
    window.__reactorEmit(JSON.stringify({ event, data: data ?? null }));
  } catch {
    /* the host has gone; nothing to tell */
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

function sdkError(e) {
  if (e == null) return null;
  return { source: "sdk", code: e.code ?? e.name ?? null, message: String(e.message ?? e), component: e.component ?? null, recoverable: e.recoverable ?? null };
}

// Frames are counted when Chromium has decoded them: each <video> reports
// every presented frame with its decoded size through requestVideoFrameCallback.
function attachTrack(givenName, track) {
  const name = givenName ?? track?.kind ?? "unknown";
  let rec = S.tracks.get(name);
  if (rec?.el) rec.el.remove();
  rec = { kind: track?.kind ?? null, id: track?.id ?? null, frames: 0, width: null, height: null, live: true, attached: (rec?.attached ?? 0) + 1, el: null };
  S.tracks.set(name, rec);
  if (rec.kind === "video") {
    const el = document.createElement("video");
    el.muted = true;
    el.autoplay = true;
    el.playsInline = true;
    el.srcObject = new MediaStream([track]);
    const onFrame = (_now, meta) => {
      rec.frames++;
      rec.width = meta.width;
      rec.height = meta.height;
      if (rec.el === el) el.requestVideoFrameCallback(onFrame);
    };
    el.requestVideoFrameCallback(onFrame);
    document.body.appendChild(el);
    el.play().catch((err) => emit("warning", { source: "page", message: `video.play(): ${err.message}` }));
    rec.el = el;
  }
  emit("track", { name, kind: rec.kind, id: rec.id, named_by: givenName ? "sdk" : "driver" });
}

function frameCounts() {
  const out = {};
  for (const [name, rec] of S.tracks) out[name] = rec.frames;
  return out;
}

let lastFrames = "{}";
setInterval(() => {
  const f = JSON.stringify(frameCounts());
  if (f !== lastFrames) {
    lastFrames = f;
    emit("frames", JSON.parse(f));
  }
}, 1000);

function listen(reactor) {
  const on = (ev, fn) => reactor.on(ev, (...a) => S.reactor === reactor && fn(...a));
  on("statusChanged", (st) => {
    S.status = st;
    emit("status", st);
  });
  on("sessionIdChanged", (id) => {
    S.sessionId = id ?? null;
    emit("session_id", id ?? null);
  });
  const onMessage = (m) => {
    S.messages.application++;
    emit("message", m);
  };
  on("message", onMessage);
  on("newMessage", onMessage);
  on("runtimeMessage", (m) => {
    S.messages.runtime++;
    emit("runtime_message", m);
  });
  on("error", (e) => {
    S.lastError = sdkError(e);
    emit("error", S.lastError);
  });
  on("trackReceived", (name, track) => attachTrack(name, track));
  on("streamChanged", (track) => attachTrack(null, track));
  on("capabilitiesReceived", (c) => {
    S.capabilities = c ?? null;
    emit("capabilities", c ?? null);
  });
  on("sessionExpirationChanged", (x) => emit("session_expiration", x ?? null));
}

function createReactor(args) {
  const model = need(args, "model", "string");
  const local = opt(args, "local", "boolean") ?? false;
  const apiUrl = opt(args, "api_url", "string");
  if (!local && apiUrl === undefined) throw new OpError("bad_args", 'missing argument "api_url" (required unless local)');
  const options = { modelName: model, local, ...(opt(args, "options", "object") ?? {}) };
  if (apiUrl !== undefined) options[LEGACY ? "coordinatorUrl" : "apiUrl"] = apiUrl;
  for (const t of S.tracks.values()) t.el?.remove();
  let reactor;
  try {
    reactor = new SDK.Reactor(options);
  } catch (err) {
    throw new OpError("sdk_error", String(err?.message ?? err), { phase: "constructor" });
  }
  Object.assign(S, { reactor, config: { api_url: apiUrl ?? null, model, local }, status: reactor.getStatus?.() ?? "disconnected", sessionId: null, lastError: null, capabilities: null, tracks: new Map() });
  listen(reactor);
  return reactor;
}

// baseUrl is the URL the instance really uses (2.2.1 fixes its own in local mode).
function baseUrl() {
  const r = S.reactor;
  return r?.coordinatorUrl ?? r?.apiUrl ?? r?.baseUrl ?? null;
}

function requireReactor() {
  if (!S.reactor) throw new OpError("bad_state", "no Reactor instance: call create or connect first");
  return S.reactor;
}

async function mintJwt(apiUrl, apiKey, body) {
  if (typeof SDK.fetchInsecureJwtToken === "function" && body === undefined) return SDK.fetchInsecureJwtToken(apiKey, apiUrl);
  const headers = { "Reactor-API-Key": apiKey, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) };
  const res = await fetch(`${apiUrl.replace(/\/+$/, "")}/tokens`, { method: "POST", headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  if (!res.ok) throw new OpError("http_error", `token request answered ${res.status}: ${text.slice(0, 300)}`, { status: res.status });
  return JSON.parse(text).jwt;
}

// waitStatus resolves when the instance reaches one of the wanted states.
function waitStatus(wanted, timeoutMs) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const tick = () => {
      if (wanted.includes(S.status)) return resolve(S.status);
      if (performance.now() - t0 > timeoutMs) return reject(new OpError("timeout", `status is "${S.status}" after ${timeoutMs} ms; wanted ${wanted.join("|")}`));
      setTimeout(tick, 25);
    };
    tick();
  });
}

// settle runs an SDK call, then (wait "ready") waits for ready, and answers
// the fields driver.mjs answers for the same op.
async function settle(call, args, phase) {
  const wait = opt(args, "wait", "string") ?? "ready";
  if (!["ready", "resolve"].includes(wait)) throw new OpError("bad_args", 'wait must be "ready" or "resolve"');
  const timeoutMs = opt(args, "timeout_ms", "number") ?? 30000;
  const t0 = performance.now();
  try {
    await call();
  } catch (err) {
    throw new OpError("sdk_error", String(err?.message ?? err), { name: err?.name, phase, status: S.status, last_error: S.lastError });
  }
  const resolvedMs = Math.round(performance.now() - t0);
  let timedOut = null;
  if (wait === "ready") await waitStatus(["ready", "disconnected"], timeoutMs).catch((e) => (timedOut = e));
  const result = { status: S.status, ready: S.status === "ready", session_id: S.sessionId, resolved_ms: resolvedMs, elapsed_ms: Math.round(performance.now() - t0), warnings: [], last_error: S.lastError };
  if (timedOut) throw new OpError("timeout", timedOut.message, result);
  return result;
}

function bytesOf(args) {
  if (typeof args.base64 === "string") return Uint8Array.from(atob(args.base64), (c) => c.charCodeAt(0));
  if (typeof args.text === "string") return new TextEncoder().encode(args.text);
  throw new OpError("bad_args", 'give one of "path", "base64" or "text"');
}

const OPS = {
  async create(args) {
    createReactor(args);
    return { status: S.status, base_url: baseUrl(), sdk_version: SDK_VERSION };
  },
  async connect(args) {
    if (!S.reactor || args.fresh || S.status === "disconnected") createReactor(args);
    for (const k of ["session_id", "connection_id"]) {
      if (args[k] != null) throw new OpError("not_supported", `this SDK's connect() cannot adopt an existing session (${k})`);
    }
    if (args.token != null) throw new OpError("not_supported", "the browser host passes no token resolver to connect (use jwt or api_key)");
    let jwt = opt(args, "jwt", "string");
    if (jwt === undefined && typeof args.api_key === "string" && !args.local) jwt = await mintJwt(need(args, "api_url", "string"), args.api_key);
    const maxAttempts = opt(args, "max_attempts", "number");
    const reactor = S.reactor;
    const result = await settle(() => reactor.connect(jwt, maxAttempts !== undefined ? { maxAttempts } : undefined), args, "connect");
    return { ...result, base_url: baseUrl(), tracks: [...S.tracks.keys()], ...(S.capabilities ? { capabilities: S.capabilities } : {}) };
  },
  async reconnect(args) {
    const reactor = requireReactor();
    if (typeof reactor.reconnect !== "function") throw new OpError("not_supported", "this SDK has no reconnect");
    const maxAttempts = opt(args, "max_attempts", "number");
    return settle(() => (maxAttempts !== undefined ? reactor.reconnect({ maxAttempts }) : reactor.reconnect()), args, "reconnect");
  },
  async token(args) {
    const apiUrl = need(args, "api_url", "string");
    const apiKey = need(args, "api_key", "string");
    // Scoped tokens are minted by a backend with its own body (mode "post"); no SDK helper asks for one.
    const scoped = ["models", "sessions", "max_sessions", "max_session_duration_seconds"].filter((k) => args[k] != null);
    if (scoped.length > 0) throw new OpError("not_supported", `this SDK has no scoped-token helper (asked: ${scoped.join(", ")}); send a scoped body with mode "post"`);
    if (typeof SDK.fetchInsecureJwtToken === "function" && (args.mode ?? "auto") !== "post") {
      try {
        return { jwt: await SDK.fetchInsecureJwtToken(apiKey, apiUrl), via: "sdk:fetchInsecureJwtToken", request: "GET /tokens (X-API-Key)" };
      } catch (err) {
        throw new OpError("sdk_error", String(err?.message ?? err), { phase: "token" });
      }
    }
    return { jwt: await mintJwt(apiUrl, apiKey, opt(args, "body", "object")), via: "driver:POST /tokens", request: "POST /tokens (Reactor-API-Key)" };
  },
  async upload_file(args) {
    const reactor = requireReactor();
    if (typeof reactor.uploadFile !== "function") throw new OpError("not_supported", `SDK ${SDK_VERSION} has no uploadFile`);
    const bytes = bytesOf(args);
    const type = opt(args, "mime_type", "string") ?? "";
    const name = opt(args, "name", "string");
    const file = name !== undefined ? new File([bytes], name, { type }) : new Blob([bytes], { type });
    try {
      const ref = await reactor.uploadFile(file);
      const uploadId = ref?.uploadId ?? ref?.upload_id;
      if (uploadId !== undefined) S.fileRefs.set(uploadId, ref);
      return { upload_id: uploadId ?? null, name: ref?.name ?? null, mime_type: ref?.mimeType ?? ref?.mime_type ?? null, size: ref?.size ?? null, warnings: [] };
    } catch (err) {
      throw new OpError("sdk_error", String(err?.message ?? err), { phase: "upload_file" });
    }
  },
  async send_command(args) {
    const reactor = requireReactor();
    const name = need(args, "name", "string");
    let data = args.data === undefined ? {} : args.data;
    const refs = opt(args, "file_refs", "object");
    if (refs) {
      data = data && typeof data === "object" && !Array.isArray(data) ? { ...data } : {};
      for (const [param, id] of Object.entries(refs)) {
        if (!S.fileRefs.has(id)) throw new OpError("bad_args", `unknown upload id "${id}" in file_refs (upload it with upload_file first)`);
        data[param] = S.fileRefs.get(id);
      }
    }
    const scope = opt(args, "scope", "string");
    try {
      if (typeof reactor.sendCommand === "function") await (scope !== undefined ? reactor.sendCommand(name, data, scope) : reactor.sendCommand(name, data));
      else await reactor.sendMessage({ type: name, data });
    } catch (err) {
      throw new OpError("sdk_error", String(err?.message ?? err), { phase: "send_command", status: S.status });
    }
    return { sent: true, status: S.status };
  },
  async disconnect(args) {
    const reactor = requireReactor();
    const recoverable = opt(args, "recoverable", "boolean") ?? false;
    try {
      await reactor.disconnect(recoverable);
    } catch (err) {
      throw new OpError("sdk_error", String(err?.message ?? err), { phase: "disconnect" });
    }
    return { status: S.status, session_id: S.sessionId, recoverable };
  },
  async state() {
    const tracks = {};
    for (const [n, r] of S.tracks) tracks[n] = { kind: r.kind, id: r.id, frames: r.frames, width: r.width, height: r.height, live: r.live, attached: r.attached };
    return { has_instance: !!S.reactor, config: S.config, status: S.reactor?.getStatus?.() ?? S.status, session_id: S.reactor?.getSessionId?.() ?? S.sessionId, frames: frameCounts(), tracks, messages: S.messages, last_error: S.lastError, capabilities: S.capabilities };
  },
  async quit(args) {
    if (args.disconnect && S.reactor) await Promise.race([S.reactor.disconnect(false).catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    return {};
  },
};

window.__reactorOps = Object.keys(OPS);
window.__reactorSdk = { version: SDK_VERSION, exports: Object.keys(SDK).sort() };
// __reactorOp answers with a JSON string so the reply crosses CDP as one value.
window.__reactorOp = async (op, argsJson) => {
  try {
    const result = await OPS[op](JSON.parse(argsJson));
    return JSON.stringify({ ok: true, result: result ?? {} });
  } catch (err) {
    const error = err instanceof OpError ? { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } : { code: "internal", message: String(err?.message ?? err) };
    return JSON.stringify({ ok: false, error });
  }
};
window.__reactorReady = true;
