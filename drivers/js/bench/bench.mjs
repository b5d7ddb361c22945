#!/usr/bin/env node
// N clients of the published JS SDK (@reactor-team/js-sdk 2.9.0) in one Node process, on
// @roamhq/wrtc, receiving the mock's streams: the JS side of the runner-vs-SDK cost
// comparison in docs/performance.md (scripts/perf/js-vs-runner.sh runs it beside
// `reactor-harness load` against the same mock).
//
// One process for all N clients is the cheapest way to run the SDK at scale (one V8 heap,
// one libwebrtc thread set, one event loop), so the per-session CPU it shows is a lower
// bound for the SDK: N driver.mjs processes would pay Node's own overhead N times.
//
// usage: node bench.mjs --url http://127.0.0.1:PORT [--api-key rk_mock_key] [--sessions 10]
//          [--duration 30] [--warmup 10] [--ramp 2] [--sink] [--model helios]
//   --sink   attach a wrtc RTCVideoSink per track (decoded I420 frames delivered to JS and
//            counted), as an application that renders or inspects frames would; without it
//            frames are counted from the SDK's own statsUpdate (inbound-rtp framesPerSecond).
// Prints one JSON line: sessions ready, frames, fps per session, CPU (cores, from
// process.cpuUsage: every thread of the process) and RSS over the measured window
// (warm-up end → end). Traffic stays on loopback: offers are filtered to loopback
// candidates as drivers/js/driver.mjs does. Exits by itself after duration + 30 s at most.

import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";

const require = createRequire(import.meta.url);

function parseArgs(argv) {
  const o = { url: "", apiKey: "rk_mock_key", sessions: 10, duration: 30, warmup: 10, ramp: 2, sink: false, model: "helios" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === "--url") o.url = next();
    else if (a === "--api-key") o.apiKey = next();
    else if (a === "--sessions") o.sessions = Number(next());
    else if (a === "--duration") o.duration = Number(next());
    else if (a === "--warmup") o.warmup = Number(next());
    else if (a === "--ramp") o.ramp = Number(next());
    else if (a === "--model") o.model = next();
    else if (a === "--sink") o.sink = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.url) throw new Error("--url is required");
  if (!/^http:\/\/(127\.|localhost|\[::1\])/.test(o.url)) throw new Error("--url must be a loopback address");
  if (!(o.warmup >= 0 && o.duration > o.warmup)) throw new Error("need 0 <= warmup < duration");
  return o;
}

const opt = parseArgs(process.argv.slice(2));
const hardStop = setTimeout(() => {
  process.stderr.write("bench: hard deadline reached, exiting\n");
  process.exit(3);
}, (opt.duration + 30) * 1000);
hardStop.unref();

// The SDK logs through console.*; keep stdout for the result line.
const quiet = (...a) => {
  if (process.env.BENCH_VERBOSE) process.stderr.write(a.map(String).join(" ") + "\n");
};
console.log = console.info = console.debug = console.warn = quiet;
console.error = (...a) => process.stderr.write("[sdk error] " + a.map(String).join(" ") + "\n");

const wrtc = require("@roamhq/wrtc");
for (const name of ["RTCPeerConnection", "RTCSessionDescription", "RTCIceCandidate", "MediaStream", "MediaStreamTrack",
  "RTCDataChannel", "RTCRtpSender", "RTCRtpReceiver", "RTCRtpTransceiver"]) {
  if (globalThis[name] === undefined && wrtc[name] !== undefined) globalThis[name] = wrtc[name];
}

// Loopback-only offers (as driver.mjs): drop non-loopback host candidates from SDP bodies.
const origFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  if (typeof init?.body === "string" && init.body.includes("a=candidate:")) {
    try {
      const body = JSON.parse(init.body);
      for (const k of ["sdp_offer", "sdp"]) {
        if (typeof body[k] === "string") {
          body[k] = body[k].split("\r\n").filter((l) => {
            if (!l.startsWith("a=candidate:")) return true;
            const addr = l.split(" ")[4] ?? "";
            return /^127\./.test(addr) || addr === "::1" || addr === "localhost";
          }).join("\r\n");
        }
      }
      init = { ...init, body: JSON.stringify(body) };
    } catch {
      /* not JSON: leave it */
    }
  }
  return origFetch(input, init);
};

const { Reactor } = await import("@reactor-team/js-sdk-290");

async function mintToken() {
  const res = await fetch(`${opt.url}/tokens`, { method: "POST", headers: { "Reactor-API-Key": opt.apiKey } });
  if (!res.ok) throw new Error(`POST /tokens answered ${res.status}`);
  return (await res.json()).jwt;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const clients = [];
let sinkFrames = 0;
let errors = 0;

async function startClient(i) {
  const c = { i, reactor: null, ready: false, fps: 0, sinks: [] };
  clients.push(c);
  try {
    const jwt = await mintToken();
    const r = new Reactor({ modelName: opt.model, apiUrl: opt.url });
    c.reactor = r;
    r.on("statusChanged", (s) => {
      if (s === "ready") c.ready = true;
    });
    r.on("statsUpdate", (st) => {
      if (typeof st?.framesPerSecond === "number") c.fps = st.framesPerSecond;
    });
    r.on("error", () => errors++);
    r.on("trackReceived", (_name, track) => {
      if (opt.sink && track?.kind === "video" && wrtc.nonstandard?.RTCVideoSink) {
        const sink = new wrtc.nonstandard.RTCVideoSink(track);
        sink.onframe = () => sinkFrames++;
        c.sinks.push(sink);
      }
    });
    await r.connect(jwt);
  } catch (err) {
    errors++;
    process.stderr.write(`client ${i}: ${err?.message ?? err}\n`);
  }
}

const t0 = performance.now();
const starts = [];
for (let i = 0; i < opt.sessions; i++) {
  const due = (opt.ramp * 1000 * i) / Math.max(opt.sessions, 1);
  const wait = due - (performance.now() - t0);
  if (wait > 0) await sleep(wait);
  starts.push(startClient(i));
}
await Promise.race([Promise.allSettled(starts), sleep(opt.warmup * 1000)]);

const warmLeft = opt.warmup * 1000 - (performance.now() - t0);
if (warmLeft > 0) await sleep(warmLeft);
const cpu0 = process.cpuUsage();
const w0 = performance.now();
const frames0 = sinkFrames;
const rss0 = process.memoryUsage().rss;
const fpsSamples = [];
while (performance.now() - t0 < opt.duration * 1000) {
  await sleep(Math.min(2000, opt.duration * 1000 - (performance.now() - t0)));
  fpsSamples.push(clients.filter((c) => c.ready).reduce((s, c) => s + c.fps, 0));
}
const cpu = process.cpuUsage(cpu0);
const span = (performance.now() - w0) / 1000;
const rss1 = process.memoryUsage().rss;
const ready = clients.filter((c) => c.ready).length;
const cores = (cpu.user + cpu.system) / 1e6 / span;
const result = {
  sdk: "@reactor-team/js-sdk 2.9.0",
  wrtc: require("@roamhq/wrtc/package.json").version,
  node: process.version,
  sessions: opt.sessions,
  ready,
  errors,
  sink: opt.sink,
  window_s: Math.round(span * 100) / 100,
  cpu_cores: Math.round(cores * 1000) / 1000,
  cpu_ms_per_session_s: ready ? Math.round((cores * 1000 * 1000) / ready) / 1000 : null,
  // frames seen by sinks (with --sink) or the SDK's inbound-rtp framesPerSecond (median sample)
  fps_per_session: opt.sink
    ? Math.round(((sinkFrames - frames0) / span / Math.max(ready, 1)) * 100) / 100
    : Math.round((fpsSamples.sort((a, b) => a - b)[fpsSamples.length >> 1] / Math.max(ready, 1)) * 100) / 100,
  rss_warm_mb: Math.round(rss0 / 1048576),
  rss_end_mb: Math.round(rss1 / 1048576),
};
process.stdout.write(JSON.stringify(result) + "\n");

for (const c of clients) {
  for (const s of c.sinks) {
    try {
      s.stop();
    } catch {
      /* ignore */
    }
  }
}
await Promise.race([
  Promise.allSettled(clients.map((c) => c.reactor?.disconnect(false))),
  sleep(10000),
]);
process.exit(0);
