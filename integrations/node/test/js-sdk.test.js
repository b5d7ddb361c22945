// The globalSetup's mock as an SDK maintainer uses it: the published @reactor-team/js-sdk
// (2.9.0, with @roamhq/wrtc for WebRTC in Node) gets a minted token, creates a session,
// reaches ready and sends a command; the journal and the session list show it.
import { createRequire } from "node:module";
import { beforeEach, expect, inject, test } from "vitest";

import { AdminClient } from "../src/index.js";

const require = createRequire(import.meta.url);
// The SDK expects browser WebRTC globals; install the addon's before it loads.
const wrtc = require("@roamhq/wrtc");
for (const name of ["RTCPeerConnection", "RTCSessionDescription", "RTCIceCandidate", "MediaStream", "MediaStreamTrack"]) {
  globalThis[name] ??= wrtc[name];
}
const { Reactor } = await import("@reactor-team/js-sdk");

const MODEL = "helios";
const mock = new AdminClient(inject("reactorMock"));
beforeEach(() => mock.reset());

// What a maintainer's backend does: exchange the API key for a JWT (2.9.0 has no helper).
async function mintToken() {
  const res = await fetch(`${mock.baseUrl}/tokens`, {
    method: "POST",
    headers: { "Reactor-API-Key": mock.apiKey, "Content-Type": "application/json" },
    body: "{}",
  });
  expect(res.status).toBe(200);
  return (await res.json()).jwt;
}

function waitStatus(reactor, want, ms) {
  return new Promise((resolve, reject) => {
    if (reactor.getStatus() === want) return resolve();
    const timer = setTimeout(() => reject(new Error(`status ${reactor.getStatus()} after ${ms} ms, want ${want}`)), ms);
    reactor.on("statusChanged", (s) => {
      if (s === want) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

test("the published js-sdk mints a token, creates a session and sends a command", async () => {
  const jwt = await mintToken();
  const reactor = new Reactor({ modelName: MODEL, apiUrl: mock.baseUrl });
  try {
    await reactor.connect(jwt);
    await waitStatus(reactor, "ready", 30_000);
    await reactor.sendCommand("set_prompt", { prompt: "a red fox" });
    const sid = reactor.getSessionId();

    const created = (await mock.journal({ method: "POST" })).find((e) => e.path === "/sessions");
    expect(created, "no POST /sessions in the journal").toBeDefined();
    expect(created.auth).toBe("bearer");
    expect(created.body.model.name).toBe(MODEL);
    expect(created.body.client_info.sdk_version).toBe("2.9.0");
    expect(created.session_id).toBe(sid);

    const sessions = await mock.sessions();
    expect(sessions.map((s) => s.session_id)).toEqual([sid]);

    let sent = [];
    for (let i = 0; i < 50 && sent.length === 0; i++) { // the command crosses the data channel
      sent = (await mock.journal({ channel: "data" })).filter((e) => e.type === "set_prompt");
      if (sent.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(sent.map((e) => e.data)).toEqual([{ prompt: "a red fox" }]);
  } finally {
    await reactor.disconnect();
  }
});
