// End-to-end: the published @reactor-team/js-sdk 2.9.0 (through the JS driver, with
// @roamhq/wrtc) against the reactor-harness mock, on loopback.
//
// The mock binary is built once from this repository (`go build ./cmd/reactor-harness`), or
// taken from REACTOR_HARNESS_BIN, started on 127.0.0.1:0 and stopped at the end, also on
// failure. Every wait is bounded; each test takes a few seconds.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Driver, harnessBinary, startMock, eventually } from "./helpers.mjs";

const SDK = "2.9.0";
const MODEL = "helios";
// A valid 1×1 PNG (67 bytes).
const PNG_1X1 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

const ok2xx = (s) => s >= 200 && s < 300;
const brief = (entries) =>
  entries
    .map((e) => (e.channel ? `[${e.channel}] ${e.scope ?? ""}/${e.type ?? ""}` : `${e.method} ${e.path} → ${e.status}`))
    .join("\n  ");

// Waits for an event that arrives after index `from` of d.events.
function waitEventAfter(d, from, pred, timeoutMs) {
  return d.waitEvent((ev) => d.events.indexOf(ev) >= from && pred(ev), timeoutMs);
}

// Sends a request and asserts ok:true, with the whole reply (and the driver's stderr tail) in
// the failure message.
async function must(d, op, args, timeoutMs = 15000) {
  const r = await d.request(op, args, timeoutMs);
  assert.equal(r.ok, true, `${op} ${JSON.stringify(args ?? {}).slice(0, 200)} failed: ${JSON.stringify(r)}\ndriver stderr (tail):\n${d.stderr.slice(-2000)}`);
  return r.result;
}

describe(`@reactor-team/js-sdk ${SDK} against the reactor-harness mock`, () => {
  let tmp;
  let mock;
  const drivers = [];
  const spawnDriver = () => {
    const d = new Driver({ sdk: SDK });
    drivers.push(d);
    return d;
  };

  before(
    async () => {
      tmp = await mkdtemp(path.join(os.tmpdir(), "reactor-harness-e2e-"));
      const bin = await harnessBinary(tmp);
      mock = await startMock(bin);
      assert.match(mock.url, /^http:\/\/127\.0\.0\.1:\d+$/, "the mock must listen on loopback");
    },
    { timeout: 180000 } // a cold `go build` may take a while; the tests themselves are bounded below
  );

  after(async () => {
    for (const d of drivers) d.kill();
    await mock?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test("connect, ready, main_video frames, commands answered, upload, set_image, DELETE on disconnect", { timeout: 45000 }, async () => {
    const d = spawnDriver();
    try {
      const hello = await must(d, "hello");
      assert.equal(hello.sdk.version, SDK, "the driver must load the pinned SDK");
      assert.equal(hello.sdk.loaded, true, `SDK not loaded: ${hello.sdk.load_error}`);
      assert.equal(hello.sdk.protocol, "session-poll");
      assert.equal(hello.runtime.webrtc_error, null, "@roamhq/wrtc must load");

      const token = await must(d, "token", { api_url: mock.url, api_key: mock.apiKey });
      assert.equal(typeof token.jwt, "string");
      assert.ok(token.jwt.length > 0, "the mock minted an empty JWT");

      // connect → ready
      const conn = await must(d, "connect", { api_url: mock.url, model: MODEL, jwt: token.jwt, timeout_ms: 15000 }, 30000);
      assert.equal(conn.ready, true, `connect did not reach ready: ${JSON.stringify(conn)}`);
      assert.equal(conn.status, "ready");
      const sid = conn.session_id;
      assert.ok(typeof sid === "string" && sid.length > 0, `no session id: ${JSON.stringify(conn)}`);
      assert.ok(conn.tracks.includes("main_video"), `no main_video track: ${JSON.stringify(conn.tracks)}`);
      await d.waitEvent((e) => e.event === "status" && e.data === "ready", 1000);
      await d.waitEvent((e) => e.event === "session_id" && e.data === sid, 1000);
      await d.waitEvent((e) => e.event === "track" && e.data.name === "main_video" && e.data.kind === "video", 1000);

      // frames on main_video
      const frames = await d.waitEvent((e) => e.event === "frames" && (e.data.main_video ?? 0) >= 30, 10000);
      assert.ok(frames.data.main_video >= 30);

      // commands answered by model messages
      const beforePrompt = d.events.length;
      const sp = await must(d, "send_command", { name: "set_prompt", data: { prompt: "a red fox in the snow" } });
      assert.equal(sp.method, "sendCommand");
      assert.equal(sp.status_at_call, "ready");
      assert.deepEqual(sp.warnings, [], "sendCommand while ready must not warn");
      const state = await waitEventAfter(d, beforePrompt, (e) => e.event === "message" && e.data?.type === "state", 10000);
      assert.equal(state.data.data?.current_prompt, "a red fox in the snow", `state after set_prompt: ${JSON.stringify(state.data)}`);

      const beforeStart = d.events.length;
      await must(d, "send_command", { name: "start", data: {} });
      await waitEventAfter(d, beforeStart, (e) => e.event === "message" && e.data?.type === "generation_started", 10000);
      await waitEventAfter(d, beforeStart, (e) => e.event === "message" && e.data?.type === "state" && e.data.data?.running === true, 10000);

      // upload
      const up = await must(d, "upload_file", { base64: PNG_1X1, name: "a.png", mime_type: "image/png" });
      assert.ok(typeof up.upload_id === "string" && up.upload_id.length > 0, `no upload id: ${JSON.stringify(up)}`);
      assert.equal(up.name, "a.png");
      assert.equal(up.mime_type, "image/png");
      assert.equal(up.size, Buffer.from(PNG_1X1, "base64").length);
      assert.deepEqual(up.warnings, []);

      // the FileRef from the upload, referenced by a command
      const beforeImage = d.events.length;
      await must(d, "send_command", { name: "set_image", data: {}, file_refs: { image: up.upload_id } });
      const accepted = await waitEventAfter(d, beforeImage, (e) => e.event === "message" && ["image_accepted", "command_error"].includes(e.data?.type), 10000);
      assert.equal(accepted.data.type, "image_accepted", `set_image refused: ${JSON.stringify(accepted.data)}`);
      assert.equal(accepted.data.data?.image?.upload_id, up.upload_id);
      const errors = d.events.filter((e) => e.event === "error" || (e.event === "message" && e.data?.type === "command_error"));
      assert.deepEqual(errors, [], "no SDK error events or command errors expected");

      // non-recoverable disconnect
      const disc = await must(d, "disconnect", { recoverable: false });
      assert.equal(disc.status, "disconnected");
      assert.equal(disc.session_id, null, "a non-recoverable disconnect forgets the session");

      // the journal
      const entries = await eventually(
        async () => {
          const j = await mock.journal({ session_id: sid });
          return j.some((e) => e.method === "DELETE") ? j : null;
        },
        { timeoutMs: 3000, describe: async () => `no DELETE in the journal for ${sid}:\n  ${brief(await mock.journal({ session_id: sid }))}` }
      );
      const all = `journal for ${sid}:\n  ${brief(entries)}`;
      const del = entries.filter((e) => e.method === "DELETE" && e.path === `/sessions/${sid}`);
      assert.equal(del.length, 1, `expected one DELETE /sessions/${sid}; ${all}`);
      assert.ok(ok2xx(del[0].status) || del[0].status === 404, `DELETE answered ${del[0].status}; ${all}`);
      const dc = (type, scope = "application") => entries.find((e) => e.channel === "data" && e.type === type && e.scope === scope);
      assert.ok(dc("set_prompt"), `no data-channel set_prompt entry; ${all}`);
      assert.ok(dc("start"), `no data-channel start entry; ${all}`);
      assert.ok(dc("set_image"), `no data-channel set_image entry; ${all}`);
      assert.ok(dc("fileUploaded", "runtime"), `no runtime fileUploaded entry; ${all}`);
      const slot = entries.find((e) => e.method === "POST" && e.path === `/sessions/${sid}/uploads`);
      assert.ok(slot && ok2xx(slot.status), `no successful POST /sessions/${sid}/uploads; ${all}`);
      const put = entries.find((e) => e.method === "PUT" && e.path === `/uploads/${up.upload_id}`);
      assert.ok(put && ok2xx(put.status), `no successful upload PUT /uploads/${up.upload_id}; ${all}`);
      const offer = entries.find((e) => e.method === "POST" && e.path === `/sessions/${sid}/transport/webrtc/sdp_params`);
      assert.equal(offer?.status, 202, `the 2.9.0 offer must be answered 202; ${all}`);
      // order: the upload precedes the command that references it, the DELETE comes last
      const seq = (e) => e.seq;
      assert.ok(seq(put) < seq(dc("set_image")), `PUT after set_image; ${all}`);
      assert.equal(seq(del[0]), Math.max(...entries.filter((e) => e.method).map(seq)), `the DELETE is not the session's last HTTP request; ${all}`);

      await must(d, "quit");
      assert.equal((await d.waitExit()).code, 0, "the driver must exit 0 after quit");
      assert.deepEqual(d.nonJson, [], "the driver wrote non-JSON lines to stdout");
    } finally {
      d.kill();
    }
  });

  test("recoverable disconnect keeps the session: no DELETE, session SUSPENDED", { timeout: 30000 }, async () => {
    const d = spawnDriver();
    try {
      const conn = await must(d, "connect", { api_url: mock.url, model: MODEL, api_key: mock.apiKey, timeout_ms: 15000 }, 30000);
      assert.equal(conn.ready, true, `connect did not reach ready: ${JSON.stringify(conn)}`);
      const sid = conn.session_id;
      assert.ok(sid, "no session id");

      const disc = await must(d, "disconnect", { recoverable: true });
      assert.equal(disc.status, "disconnected");
      assert.equal(disc.recoverable, true);
      assert.equal(disc.session_id, sid, "a recoverable disconnect keeps the session id");

      // The mock notices the transport loss; the session must be suspended, not ended.
      const snap = await eventually(
        async () => (await mock.sessions()).find((s) => s.session_id === sid && s.state !== "ACTIVE"),
        { timeoutMs: 5000, describe: async () => JSON.stringify((await mock.sessions()).find((s) => s.session_id === sid)?.history) }
      );
      assert.equal(snap.state, "SUSPENDED", `session state after a recoverable disconnect: ${JSON.stringify(snap.history)}`);
      const entries = await mock.journal({ session_id: sid });
      assert.deepEqual(
        entries.filter((e) => e.method === "DELETE"),
        [],
        `a recoverable disconnect must not DELETE; journal for ${sid}:\n  ${brief(entries)}`
      );

      // Tidy up the way an application would: the non-recoverable quit ends it.
      await must(d, "quit", { disconnect: true }, 10000);
      assert.equal((await d.waitExit()).code, 0);
      await eventually(async () => (await mock.journal({ session_id: sid, method: "DELETE" })).length === 1, {
        timeoutMs: 3000,
        describe: async () => brief(await mock.journal({ session_id: sid })),
      });
    } finally {
      d.kill();
    }
  });
});
