// Driver-protocol tests for the JS driver, run once per pinned SDK version.
// No Reactor server is needed: connect-level behaviour is covered by the harness suites
// against the mock; here only a tiny loopback token endpoint is used.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, SDK_VERSIONS, startTokenServer } from "./helpers.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));

const EXPECT = {
  "2.9.0": {
    protocol: "session-poll",
    has: { send_command: true, send_message: false, upload_file: true, reconnect: true, token_helper: false, get_capabilities: true },
    tokenHelper: null,
  },
  "2.2.1": {
    protocol: "legacy",
    has: { send_command: true, send_message: false, upload_file: false, reconnect: true, token_helper: true, get_capabilities: false },
    tokenHelper: "fetchInsecureJwtToken",
  },
};

function assertCleanStdout(d) {
  assert.deepEqual(d.nonJson, [], `driver wrote non-JSON lines to stdout: ${d.nonJson.join("\n")}`);
}

for (const version of SDK_VERSIONS) {
  describe(`js driver with @reactor-team/js-sdk ${version}`, () => {
    const drivers = [];
    const spawnDriver = (opts = {}) => {
      const d = new Driver({ sdk: version, ...opts });
      drivers.push(d);
      return d;
    };
    after(() => drivers.forEach((d) => d.kill()));

    test("hello reports SDK name, version, generation, protocol and API surface", async () => {
      const d = spawnDriver();
      const r = await d.request("hello");
      assert.equal(r.ok, true, JSON.stringify(r));
      const { sdk, surface, driver, ops } = r.result;
      assert.equal(driver.protocol, 1);
      assert.equal(sdk.name, "@reactor-team/js-sdk");
      assert.equal(sdk.version, version);
      assert.equal(sdk.loaded, true);
      assert.equal(sdk.generation, "2.x");
      assert.equal(sdk.protocol, EXPECT[version].protocol);
      for (const [name, present] of Object.entries(EXPECT[version].has)) {
        assert.equal(surface.has[name], present, `surface.has.${name}`);
      }
      assert.equal(surface.token_helper, EXPECT[version].tokenHelper);
      assert.ok(surface.methods.includes("sendCommand"));
      assert.ok(surface.methods.includes("connect"));
      assert.ok(surface.methods.includes("disconnect"));
      assert.ok(!surface.methods.includes("setStatus"), "private methods must not be listed as public");
      assert.ok(surface.private_methods.includes("setStatus"));
      assert.ok(surface.exports.includes("Reactor"));
      for (const op of ["hello", "token", "connect", "send_command", "upload_file", "reconnect", "disconnect", "state", "quit"]) {
        assert.ok(ops.includes(op), `op ${op} advertised`);
      }
      assert.equal(typeof r.t_ms, "number");
      await d.request("quit");
      assert.equal((await d.waitExit()).code, 0);
      assertCleanStdout(d);
    });

    test("unknown op is answered with unknown_op", async () => {
      const d = spawnDriver();
      const r = await d.request("fly_to_the_moon", {});
      assert.equal(r.ok, false);
      assert.equal(r.error.code, "unknown_op");
      assert.match(r.error.message, /fly_to_the_moon/);
      await d.request("quit");
      await d.waitExit();
    });

    test("malformed lines produce error events and the driver keeps running", async () => {
      const d = spawnDriver();
      d.sendRaw("this is not json\n");
      d.sendRaw('{"op":"hello"}\n'); // no id
      d.sendRaw("[1,2,3]\n");
      const ev = await d.waitEvent((e) => e.event === "error" && e.data?.code === "bad_json");
      assert.equal(ev.data.source, "driver");
      assert.equal(typeof ev.t_ms, "number");
      await d.waitEvent((e) => e.event === "error" && e.data?.code === "bad_request");
      const badArgs = await d.requestRaw({ id: "s1", op: "state", args: [1] });
      assert.equal(badArgs.ok, false);
      assert.equal(badArgs.error.code, "bad_args");
      const noOp = await d.requestRaw({ id: 77 });
      assert.equal(noOp.error.code, "bad_request");
      const r = await d.request("state");
      assert.equal(r.ok, true);
      assert.equal(r.result.status, "disconnected");
      await d.request("quit");
      assert.equal((await d.waitExit()).code, 0);
      assertCleanStdout(d);
    });

    test("quit exits 0 promptly and is the last line", async () => {
      const d = spawnDriver();
      await d.request("hello");
      const started = Date.now();
      const r = await d.request("quit");
      assert.equal(r.ok, true);
      const ex = await d.waitExit(5000);
      assert.equal(ex.code, 0, `exit: ${JSON.stringify(ex)} stderr: ${d.stderr}`);
      assert.ok(Date.now() - started < 5000);
      assert.equal(JSON.parse(d.lines.at(-1)).id, r.id);
    });

    test("stdin EOF exits 0", async () => {
      const d = spawnDriver();
      await d.request("hello");
      d.child.stdin.end();
      const ex = await d.waitExit(6000);
      assert.equal(ex.code, 0, `exit: ${JSON.stringify(ex)}`);
    });

    test("send_command before connect only warns (warning event + result.warnings)", async () => {
      const d = spawnDriver();
      const c = await d.request("create", { api_url: "http://127.0.0.1:9", model: "helios" });
      assert.equal(c.ok, true, JSON.stringify(c));
      const r = await d.request("send_command", { name: "set_prompt", data: { prompt: "a cat" } });
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(r.result.method, "sendCommand");
      assert.equal(r.result.status_at_call, "disconnected");
      assert.ok(r.result.warnings.some((w) => /Cannot send message, status is disconnected/.test(w)), JSON.stringify(r.result));
      const ev = await d.waitEvent((e) => e.event === "warning");
      assert.match(ev.data.message, /Cannot send message/);
      await d.request("quit");
      await d.waitExit();
      assertCleanStdout(d);
    });

    test("ops needing an instance fail with bad_state; bad args with bad_args", async () => {
      const d = spawnDriver();
      assert.equal((await d.request("send_command", { name: "x" })).error.code, "bad_state");
      assert.equal((await d.request("disconnect", {})).error.code, "bad_state");
      assert.equal((await d.request("connect", { api_url: "http://127.0.0.1:9" })).error.code, "bad_args");
      assert.equal((await d.request("token", { api_url: "http://127.0.0.1:9" })).error.code, "bad_args");
      await d.request("create", { api_url: "http://127.0.0.1:9", model: "m" });
      assert.equal((await d.request("send_command", {})).error.code, "bad_args");
      await d.request("quit");
      await d.waitExit();
    });

    test("upload_file follows the SDK surface", async () => {
      const d = spawnDriver();
      await d.request("create", { api_url: "http://127.0.0.1:9", model: "helios" });
      const r = await d.request("upload_file", { text: "hello", name: "a.txt", mime_type: "text/plain" });
      assert.equal(r.ok, false);
      if (EXPECT[version].has.upload_file) {
        assert.equal(r.error.code, "sdk_error");
        assert.match(r.error.message, /Must be "ready"/);
      } else {
        assert.equal(r.error.code, "not_supported");
      }
      await d.request("quit");
      await d.waitExit();
    });

    test("token op uses the SDK helper when there is one, else the documented POST", async () => {
      const srv = await startTokenServer();
      try {
        const d = spawnDriver();
        const r = await d.request("token", { api_url: srv.url, api_key: "rk_test" });
        assert.equal(r.ok, true, JSON.stringify(r));
        const first = srv.requests[0];
        if (EXPECT[version].has.token_helper) {
          assert.equal(r.result.via, "sdk:fetchInsecureJwtToken");
          assert.equal(r.result.jwt, "jwt-get");
          assert.equal(first.method, "GET");
          assert.equal(first.headers["x-api-key"], "rk_test");
          // the SDK helper warns about exposing the key
          await d.waitEvent((e) => e.event === "warning" && /fetchInsecureJwtToken/.test(e.data.message));
        } else {
          assert.equal(r.result.via, "driver:POST /tokens");
          assert.equal(r.result.jwt, "jwt-post");
          assert.equal(r.result.expires_at, 1900000000);
          assert.equal(first.method, "POST");
          assert.equal(first.headers["reactor-api-key"], "rk_test");
          assert.equal(first.body, "");
        }
        const bad = await d.request("token", { api_url: srv.url, api_key: "rk_wrong", mode: "post" });
        assert.equal(bad.ok, false);
        assert.equal(bad.error.code, "http_error");
        assert.equal(bad.error.details.status, 401);
        await d.request("quit");
        await d.waitExit();
      } finally {
        await srv.close();
      }
    });

    test("connect against a server without the SDK's endpoints fails with sdk_error and an SDK error event", async () => {
      const srv = await startTokenServer(); // 404 for everything but /tokens
      try {
        // verbose: the SDK's debug logging must still stay off stdout
        const d = spawnDriver({ env: { REACTOR_DRIVER_VERBOSE: "1" } });
        const r = await d.request("connect", { api_url: srv.url, model: "helios", jwt: "t" }, 20000);
        assert.equal(r.ok, false, JSON.stringify(r));
        assert.equal(r.error.code, "sdk_error");
        const ev = await d.waitEvent((e) => e.event === "error" && e.data.source === "sdk");
        assert.equal(ev.data.code, "CONNECTION_FAILED");
        assert.equal(ev.data.recoverable, true);
        const first = srv.requests[0];
        if (version === "2.2.1") {
          // The old SDK asks for ICE servers first, on a path current servers do not serve.
          assert.equal(first.method, "GET");
          assert.equal(first.url, "/ice_servers?model=helios");
          assert.equal(first.headers.authorization, "Bearer t");
          assert.equal(first.headers["reactor-api-version"], undefined);
          assert.match(r.error.message, /Failed to fetch ICE servers: 404/);
        } else {
          assert.equal(first.method, "POST");
          assert.equal(first.url, "/sessions");
          assert.equal(first.headers["reactor-api-version"], "1");
          assert.equal(first.headers["reactor-api-accept-version"], "1");
          assert.deepEqual(JSON.parse(first.body), {
            model: { name: "helios" },
            client_info: { sdk_version: "2.9.0", sdk_type: "js" },
            supported_transports: [{ protocol: "webrtc", version: "1.0" }],
          });
          assert.match(r.error.message, /Failed to create session: 404/);
        }
        await d.waitEvent((e) => e.event === "http" && e.data.status === 404);
        const st = await d.request("state");
        assert.equal(st.result.status, "disconnected");
        assert.equal(st.result.last_error.code, "CONNECTION_FAILED");
        await d.request("quit");
        assert.equal((await d.waitExit()).code, 0);
        assertCleanStdout(d);
        assert.match(d.stderr, /\[sdk\]/, "verbose mode forwards SDK debug output to stderr");
      } finally {
        await srv.close();
      }
    });
  });
}

test("REACTOR_JS_SDK_VERSION selects the SDK and REACTOR_JS_SDK overrides the package", async () => {
  const byEnv = new Driver({ env: { REACTOR_JS_SDK_VERSION: "2.2.1" } });
  const local = new Driver({
    env: { REACTOR_JS_SDK: path.join(HERE, "..", "node_modules", "@reactor-team", "js-sdk-221") },
  });
  try {
    const a = await byEnv.request("hello");
    assert.equal(a.result.sdk.version, "2.2.1");
    const b = await local.request("hello");
    assert.equal(b.ok, true);
    assert.equal(b.result.sdk.version, "2.2.1");
    assert.match(b.result.sdk.source, /^local:/);
    assert.equal(b.result.sdk.loaded, true);
  } finally {
    for (const d of [byEnv, local]) {
      d.child.stdin.end();
      await d.waitExit();
      d.kill();
    }
  }
});

test("an unknown --sdk version still answers hello, with the load error", async () => {
  const d = new Driver({ sdk: "0.0.1" });
  try {
    const r = await d.request("hello");
    assert.equal(r.ok, true);
    assert.equal(r.result.sdk.loaded, false);
    assert.match(r.result.sdk.load_error, /unknown SDK version/);
    const c = await d.request("connect", { api_url: "http://127.0.0.1:9", model: "m", jwt: "x" });
    assert.equal(c.error.code, "sdk_load_failed");
    await d.request("quit");
    assert.equal((await d.waitExit()).code, 0);
  } finally {
    d.kill();
  }
});
