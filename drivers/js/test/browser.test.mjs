// Browser-host tests: browser-driver.mjs against real headless Chromium.
// Each test checks that the browser process and its profile are gone after
// the driver ends, however it ends.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DRIVER = path.join(HERE, "..", "browser-driver.mjs");
const HAVE_BROWSER = existsSync("/usr/bin/chromium");

// startDriver runs the browser host and collects its stdout lines.
const started = [];
after(() => started.forEach((c) => c.kill("SIGKILL")));

function startDriver(args) {
  const child = spawn(process.execPath, [DRIVER, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  started.push(child);
  const lines = [];
  let buf = "";
  child.stdout.on("data", (b) => {
    buf += b;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  child.stderr.resume();
  const exited = new Promise((r) => child.once("exit", (code, sig) => r({ code, sig })));
  return { child, lines, exited, send: (o) => child.stdin.write(JSON.stringify(o) + "\n") };
}

async function waitFor(fn, what, limit = 300) {
  for (let i = 0; i < limit; i++) {
    const v = fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

// profileOf reads the --user-data-dir the driver gave its browser (other
// drivers may run at the same time, so listing the temp folder is not enough).
const profileOf = (browserPid) => {
  const argv = readFileSync(`/proc/${browserPid}/cmdline`, "utf8").split("\0");
  const flag = argv.find((a) => a.startsWith("--user-data-dir="));
  return flag ? flag.slice("--user-data-dir=".length) : null;
};
// chromiumChildrenOf lists the driver's browser process (its other child is
// the reaper, which names no profile).
const chromiumChildrenOf = (pid) => {
  let kids = [];
  try {
    kids = execFileSync("pgrep", ["-P", String(pid)]).toString().trim().split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return kids.filter((k) => {
    try {
      return readFileSync(`/proc/${k}/cmdline`, "utf8").includes("--user-data-dir=");
    } catch {
      return false;
    }
  });
};
// byProfile lists every process still naming the profile on its command line.
const byProfile = (dir) => {
  try {
    return execFileSync("pgrep", ["-f", dir]).toString().trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
};
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("browser host", { skip: !HAVE_BROWSER && "no /usr/bin/chromium" }, () => {
  test("hello answers from the page; quit removes browser and profile", async () => {
    const d = startDriver(["--sdk", "2.9.0"]);
    d.send({ id: 1, op: "hello" });
    const hello = await waitFor(() => d.lines.find((l) => l.id === 1), "hello");
    assert.equal(hello.ok, true, JSON.stringify(hello));
    assert.equal(hello.result.sdk.version, "2.9.0");
    assert.equal(hello.result.sdk.loaded, true);
    assert.match(hello.result.runtime.browser, /Chrom/);
    assert.ok(hello.result.ops.includes("connect"));
    const browserPids = chromiumChildrenOf(d.child.pid);
    const profile = profileOf(browserPids[0]);
    assert.ok(profile && existsSync(profile), "a fresh profile while running");
    d.send({ id: 2, op: "quit" });
    assert.equal((await d.exited).code, 0);
    await waitFor(() => !existsSync(profile), "profile removal", 50);
    for (const pid of browserPids) await waitFor(() => !alive(pid), `browser ${pid} to exit`, 50);
  });

  test("a missing browser is a clear error, not a crash", async () => {
    const d = startDriver(["--sdk", "2.9.0", "--browser", "/nonexistent/chromium"]);
    d.send({ id: 1, op: "state" });
    const r = await waitFor(() => d.lines.find((l) => l.id === 1), "reply");
    assert.equal(r.ok, false);
    assert.equal(r.error.code, "browser_missing");
    assert.match(r.error.message, /\/nonexistent\/chromium/);
    d.send({ id: 2, op: "quit" });
    assert.equal((await d.exited).code, 0);
  });

  test("SIGKILL of the driver still ends the browser and removes the profile", async () => {
    const d = startDriver(["--sdk", "2.2.1"]);
    d.send({ id: 1, op: "state" });
    await waitFor(() => d.lines.find((l) => l.id === 1), "state");
    const browserPids = chromiumChildrenOf(d.child.pid);
    d.child.kill("SIGKILL");
    assert.ok(browserPids.length > 0, "the browser runs as the driver's child");
    const profile = profileOf(browserPids[0]);
    await d.exited;
    for (const pid of browserPids) await waitFor(() => !alive(pid), `browser ${pid} to exit`, 100);
    await waitFor(() => !existsSync(profile), "profile removal", 100);
    await waitFor(() => byProfile(profile).length === 0, "no process naming the profile", 50);
  });

  test("an unknown op is answered with unknown_op", async () => {
    const d = startDriver(["--sdk", "2.9.0"]);
    d.send({ id: 1, op: "no_such_op" });
    const r = await waitFor(() => d.lines.find((l) => l.id === 1), "reply");
    assert.equal(r.error.code, "unknown_op");
    d.send({ id: 2, op: "quit" });
    await d.exited;
  });
});
