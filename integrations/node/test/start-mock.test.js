// startMock() and ReactorMock against the real binary ($REACTOR_HARNESS): the ready contract,
// the admin API, stop(), and every way a start can fail.
import { writeFileSync, chmodSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterEach, describe, expect, test } from "vitest";

import { MockAdminError, MockStartError, startMock } from "../src/index.js";
import { fakeBinary, listening, postToken, tempDir } from "./helpers.js";

const started = [];
async function start(options) {
  const m = await startMock(options);
  started.push(m);
  return m;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((m) => m.stop()));
});

async function startError(options) {
  const err = await startMock(options).then(
    (m) => {
      started.push(m);
      return null;
    },
    (e) => e,
  );
  expect(err, "startMock should have failed").toBeInstanceOf(MockStartError);
  return err;
}

describe("a started mock", () => {
  test("names a real port and its own pid", async () => {
    const m = await start();
    const port = Number(new URL(m.baseUrl).port);
    expect(port).toBeGreaterThan(0);
    expect(m.pid).toBe(m.process.pid);
    expect(m.adminUrl).toBe(`${m.baseUrl}/__admin`);
    expect(m.apiKey).not.toBe("");
    expect(await listening(m.baseUrl)).toBe(true);
  });

  test("journals requests, filters them, redacts the key", async () => {
    const m = await start();
    expect((await postToken(m)).status).toBe(200);
    const [entry, ...rest] = await m.journal();
    expect(rest).toEqual([]);
    expect([entry.method, entry.path, entry.status]).toEqual(["POST", "/tokens", 200]);
    expect(entry.body).toEqual({});
    expect(JSON.stringify(entry.headers)).not.toContain(m.apiKey);
    expect(await m.journal({ path_prefix: "/sessions" })).toEqual([]);
    await postToken(m);
    expect((await m.journal({ since: entry.seq })).map((e) => e.seq)).toEqual([entry.seq + 1]);
  });

  test("scenario() replaces the scenario and reset() restores it", async () => {
    const m = await start();
    const before = (await m.scenario()).limits.max_concurrent_sessions;
    const changed = await m.scenario({ limits: { max_concurrent_sessions: before + 3 } });
    expect(changed.limits.max_concurrent_sessions).toBe(before + 3);
    await postToken(m);
    await m.reset();
    expect((await m.scenario()).limits.max_concurrent_sessions).toBe(before);
    expect(await m.journal()).toEqual([]);
    expect(await m.sessions()).toEqual([]);
  });

  test("scenario() reads a YAML file", async () => {
    const m = await start();
    const file = path.join(tempDir(), "s.yaml");
    writeFileSync(file, "name: from-file\ntimings:\n  pending_polls: 2\n");
    expect((await m.scenario(file)).timings.pending_polls).toBe(2);
    expect((await m.scenario()).name).toBe("from-file");
  });

  test("a bad scenario is a MockAdminError with the mock's detail", async () => {
    const m = await start();
    const err = await m.scenario({ no_such_field: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(MockAdminError);
    expect(err.status).toBe(400);
    expect(err.detail).toContain("no_such_field");
  });

  test("stop() ends the process, cleanly, and can be called twice", async () => {
    const m = await startMock();
    expect(await m.stop()).toBe(0);
    expect(m.running).toBe(false);
    expect(await listening(m.baseUrl)).toBe(false);
    expect(await m.stop()).toBe(0);
  });
});

describe("a start that fails names its cause", () => {
  test("a missing binary path", async () => {
    const err = await startError({ binary: "/nonexistent/reactor-harness" });
    expect(err.message).toContain("'/nonexistent/reactor-harness', which does not exist");
  });

  test("$REACTOR_HARNESS pointing nowhere", async () => {
    const saved = process.env.REACTOR_HARNESS;
    try {
      process.env.REACTOR_HARNESS = "/nonexistent/rh";
      const err = await startError();
      expect(err.message).toContain("$REACTOR_HARNESS names '/nonexistent/rh', which does not exist");
    } finally {
      process.env.REACTOR_HARNESS = saved;
    }
  });

  test("nothing on PATH", async () => {
    const saved = { ...process.env };
    try {
      delete process.env.REACTOR_HARNESS;
      process.env.PATH = tempDir();
      const err = await startError();
      expect(err.message).toContain("not on PATH");
    } finally {
      process.env.REACTOR_HARNESS = saved.REACTOR_HARNESS;
      process.env.PATH = saved.PATH;
    }
  });

  test("a file that is not executable", async () => {
    const file = path.join(tempDir(), "reactor-harness");
    writeFileSync(file, "not a program");
    const err = await startError({ binary: file });
    expect(err.message).toContain("not an executable file");
  });

  test("an executable that cannot run", async () => {
    const file = path.join(tempDir(), "reactor-harness");
    writeFileSync(file, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3]));
    chmodSync(file, 0o755);
    const err = await startError({ binary: file });
    expect(err.message).toMatch(/cannot run .*reactor-harness|exited with/);
  });

  test("a binary that prints something else", async () => {
    const err = await startError({ binary: fakeBinary("console.log('hello, not the mock'); setTimeout(() => {}, 30000);") });
    expect(err.message).toContain("instead of a JSON ready line");
  });

  test("a mock that dies at start, with its stderr tail", async () => {
    const err = await startError({
      binary: fakeBinary("for (let i = 0; i < 100; i++) console.error(`line ${i}`); process.exit(7);"),
    });
    expect(err.message).toContain("exited with code 7 before it was ready");
    expect(err.stderrTail).toContain("line 99");
    expect(err.stderrTail.split("\n")).not.toContain("line 0");
  });

  test("a mock that never gets ready, within the bound", async () => {
    const err = await startError({
      binary: fakeBinary("console.error('warming up'); setTimeout(() => {}, 60000);"),
      startTimeoutMs: 1000,
    });
    expect(err.message).toContain("no ready line within 1 s");
    expect(err.stderrTail).toContain("warming up");
  });

  test("a port in use", async () => {
    const server = net.createServer();
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const addr = `127.0.0.1:${server.address().port}`;
    try {
      const err = await startError({ listen: addr });
      expect(err.message).toContain(`the address ${addr} is already in use`);
      expect(err.stderrTail).toContain("address already in use");
    } finally {
      server.close();
    }
  });

  test("a bad scenario file", async () => {
    const file = path.join(tempDir(), "bad.yaml");
    writeFileSync(file, "no_such_field: 1\n");
    const err = await startError({ scenario: file });
    expect(err.stderrTail).toContain("no_such_field");
  });
});
