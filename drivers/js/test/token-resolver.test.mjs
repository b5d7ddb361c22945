// Token resolvers (drivers/PROTOCOL.md §3.4 `token`): the mint spec, the POST /tokens body it
// becomes, a resolver minting a fresh token from the real mock on every call, and how the
// driver answers for SDKs whose connect takes only a fixed JWT.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import path from "node:path";
import { mkdtemp, rm } from "node:fs/promises";
import { mintSpecProblem, mintBody, tokenResolver } from "../token-resolver.mjs";
import { Driver, SDK_VERSIONS, harnessBinary, startMock } from "./helpers.mjs";

describe("mint spec", () => {
  test("valid specs pass and bad ones name the problem", () => {
    assert.equal(mintSpecProblem({ mint: {} }), null);
    assert.equal(mintSpecProblem({ mint: { expires_after: 60, models: ["helios"], max_sessions: 2 } }), null);
    const bad = [
      [null, /must be an object/],
      [{ mint: 5 }, /token.mint" must be an object/],
      [{ mint: {}, jwt: "x" }, /takes only "mint"/],
      [{ mint: { expires_after: 0 } }, /expires_after must be a positive integer/],
      [{ mint: { expires_after: 1.5 } }, /positive integer/],
      [{ mint: { models: [] } }, /models must be a non-empty array/],
      [{ mint: { scope: "all" } }, /token.mint.scope is unknown/],
    ];
    for (const [spec, re] of bad) assert.match(String(mintSpecProblem(spec)), re, JSON.stringify(spec));
  });

  test("the POST /tokens body is what an app's backend sends", () => {
    assert.deepEqual(mintBody({}), {});
    assert.deepEqual(mintBody({ expires_after: 3600, models: ["helios"], max_sessions: 10 }), {
      expires_after: 3600,
      authorization_details: [{ type: "session", resources: { models: { match: ["helios"] } }, constraints: { max_sessions: 10 } }],
    });
    assert.deepEqual(mintBody({ sessions: ["s1"], max_session_duration_seconds: 60 }), {
      authorization_details: [{ type: "session", resources: { sessions: { bind: ["s1"] } }, constraints: { max_session_duration_seconds: 60 } }],
    });
  });
});

describe("resolver against the mock", () => {
  let tmp;
  let mock;
  before(
    async () => {
      tmp = await mkdtemp(path.join(os.tmpdir(), "reactor-harness-resolver-"));
      mock = await startMock(await harnessBinary(tmp));
    },
    { timeout: 180000 }
  );
  after(async () => {
    await mock?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test("every call mints a fresh token from POST /tokens with the spec's body", { timeout: 20000 }, async () => {
    const minted = [];
    const mintOnce = async (body) => {
      const res = await fetch(`${mock.url}/tokens`, {
        method: "POST",
        headers: { "Reactor-API-Key": mock.apiKey, "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(res.status, 200, await res.clone().text());
      return res.json();
    };
    const resolve = tokenResolver(mintOnce, { expires_after: 60, models: ["helios"] }, (t) => minted.push(t));
    const jwts = [];
    for (let i = 0; i < 3; i++) jwts.push(await resolve());
    assert.equal(new Set(jwts).size, 3, "each call must return a newly minted token");
    assert.equal(minted.length, 3);
    for (const t of minted) assert.equal(typeof t.expires_at, "number");
    const posts = (await mock.journal({ method: "POST" })).filter((e) => e.method === "POST" && e.path === "/tokens");
    assert.equal(posts.length, 3, "one POST /tokens per resolver call");
    for (const p of posts) {
      assert.equal(p.status, 200);
      assert.deepEqual(p.body, { expires_after: 60, authorization_details: [{ type: "session", resources: { models: { match: ["helios"] } } }] });
    }
  });

  // Runs with a local build of an SDK that accepts resolvers (js-sdk >= 2.10), e.g.
  // REACTOR_JS_SDK=/path/to/js-sdk/packages/js-sdk; the pinned SDKs take none.
  const localSdk = process.env.REACTOR_JS_SDK;
  test(
    "a resolver-accepting SDK reaches ready, calling the resolver before each authenticated request",
    { timeout: 60000, skip: localSdk ? false : "set REACTOR_JS_SDK to a js-sdk >= 2.10 build: no pinned SDK accepts a token resolver" },
    async () => {
      const d = new Driver({ env: { REACTOR_JS_SDK: localSdk } });
      try {
        const hello = await d.request("hello");
        assert.equal(hello.result.surface.has.token_resolver, true, `the SDK at ${localSdk} declares ${hello.result.surface.token_resolver.declared}`);
        const since = Math.max(0, ...(await mock.journal()).map((e) => e.seq));
        const r = await d.request("connect", { api_url: mock.url, api_key: mock.apiKey, model: "helios", token: { mint: { expires_after: 60 } }, timeout_ms: 15000 }, 40000);
        assert.equal(r.ok, true, JSON.stringify(r.error));
        assert.equal(r.result.ready, true);
        assert.equal(r.result.token_via, "driver:resolver POST /tokens");
        const st = await d.request("state");
        const entries = await mock.journal({ since });
        const mints = entries.filter((e) => e.method === "POST" && e.path === "/tokens");
        const authed = entries.filter((e) => e.auth === "bearer");
        assert.equal(mints.length, st.result.token_mints, "one POST /tokens per resolver call");
        assert.ok(authed.length > 0 && mints.length >= authed.length, `${mints.length} mints for ${authed.length} authenticated requests`);
        assert.equal(new Set(authed.map((e) => e.token_id)).size, authed.length, "each authenticated request carried a freshly minted token");
        await d.request("disconnect", {}, 15000);
      } finally {
        d.kill();
      }
    }
  );
});

for (const version of SDK_VERSIONS) {
  describe(`js-sdk ${version} and token resolvers`, () => {
    const d = new Driver({ sdk: version });
    after(() => d.kill());

    test("hello says the SDK takes a fixed JWT, read from its type declarations", async () => {
      const r = await d.request("hello");
      assert.equal(r.ok, true);
      assert.equal(r.result.surface.has.token_resolver, false);
      assert.deepEqual(r.result.surface.token_resolver, { accepts: false, basis: "d.ts", declared: "connect(jwtToken?: string)" });
    });

    test("connect with a mint spec is not_supported, naming the declared signature", async () => {
      const r = await d.request("connect", { api_url: "http://127.0.0.1:9", api_key: "rk_x", model: "helios", token: { mint: { expires_after: 60 } } });
      assert.equal(r.ok, false);
      assert.equal(r.error.code, "not_supported", JSON.stringify(r.error));
      assert.match(r.error.message, /accepts no token resolver: connect\(jwtToken\?: string\)/);
    });

    test("a bad mint spec is bad_args, checked before the SDK is asked", async () => {
      const r = await d.request("connect", { api_url: "http://127.0.0.1:9", api_key: "rk_x", model: "helios", token: { mint: { ttl: 60 } } });
      assert.equal(r.ok, false);
      assert.equal(r.error.code, "bad_args");
      assert.match(r.error.message, /token.mint.ttl is unknown/);
    });
  });
}
