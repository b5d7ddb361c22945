// The reactor-harness mock Reactor server as a test dependency for Node.
//
// startMock() runs `reactor-harness mock --listen 127.0.0.1:0 --json --exit-on-stdin-close`
// and resolves once the mock printed its one JSON ready line. The mock holds the read end of a
// pipe this process owns, so it also ends when the test runner dies without cleaning up.

import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";

import { AdminClient, MockAdminError } from "./admin.js";

export { AdminClient, MockAdminError };

export const BINARY_NAME = "reactor-harness";
export const ENV_BINARY = "REACTOR_HARNESS";
// A cold mock is ready in well under a second; this bound is for a loaded CI machine.
export const DEFAULT_START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const STDERR_TAIL_LINES = 40;

// Known stderr phrases and what they mean to the person reading the error.
const HINTS = [
  ["address already in use", (listen) => `the address ${listen} is already in use`],
  ["unknown flag", () => "this binary does not accept `mock --json --exit-on-stdin-close`: too old a reactor-harness?"],
  ["unknown command", () => "this binary has no `mock` command: is it reactor-harness?"],
];

/** The mock could not be started: `cause` says why, `stderrTail` is what it printed. */
export class MockStartError extends Error {
  constructor(cause, stderrTail) {
    // undefined: the process never started, so there is no stderr to show.
    const tail = (stderrTail ?? "").replace(/\n+$/, "");
    let shown = "";
    if (stderrTail !== undefined) {
      shown = tail ? `\n--- last lines of the mock's stderr:\n${tail}` : "\n(the mock wrote nothing on stderr)";
    }
    super(cause + shown);
    this.name = "MockStartError";
    this.cause = cause;
    this.stderrTail = tail;
  }
}

/** The executable to run: `binary`, else $REACTOR_HARNESS, else reactor-harness on PATH. */
export function findBinary(binary) {
  if (binary) return checkExecutable(binary, "the binary option");
  const fromEnv = process.env[ENV_BINARY];
  if (fromEnv) return checkExecutable(fromEnv, `$${ENV_BINARY}`);
  const found = which(BINARY_NAME);
  if (!found) {
    throw new MockStartError(
      `${BINARY_NAME} is not on PATH and $${ENV_BINARY} is not set: install a release ` +
        `or \`make build\`, then set ${ENV_BINARY}=/path/to/${BINARY_NAME}`,
    );
  }
  return found;
}

function checkExecutable(candidate, source) {
  const file = candidate.includes(path.sep) ? candidate : (which(candidate) ?? candidate);
  let st;
  try {
    st = statSync(file);
  } catch {
    throw new MockStartError(`${source} names '${candidate}', which does not exist`);
  }
  if (!st.isFile() || !isExecutable(file)) {
    throw new MockStartError(`${source} names '${candidate}', which is not an executable file`);
  }
  return file;
}

function which(name) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      if (statSync(file).isFile() && isExecutable(file)) return file;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a mock and resolves with a ReactorMock once it accepts connections. Any failure
 * rejects with a MockStartError within `startTimeoutMs`, with the mock's stderr tail.
 */
export async function startMock(options = {}) {
  const {
    binary,
    listen = "127.0.0.1:0",
    apiKey,
    scenario,
    args = [],
    env,
    startTimeoutMs = DEFAULT_START_TIMEOUT_MS,
  } = options;
  const file = findBinary(binary);
  const argv = ["mock", "--listen", listen, "--json", "--exit-on-stdin-close"];
  if (apiKey) argv.push("--api-key", apiKey);
  if (scenario) argv.push("--scenario", String(scenario));
  argv.push(...args);
  const child = spawn(file, argv, { stdio: ["pipe", "pipe", "pipe"], env: env ?? process.env });
  const tail = stderrTail(child);
  const ready = await awaitReady(child, file, listen, startTimeoutMs, tail);
  return new ReactorMock(child, file, ready, tail);
}

function stderrTail(child) {
  const lines = [];
  const closed = new Promise((resolve) => child.stderr.once("close", resolve));
  createInterface({ input: child.stderr, crlfDelay: Infinity }).on("line", (line) => {
    lines.push(line);
    if (lines.length > STDERR_TAIL_LINES) lines.shift();
  });
  return {
    text: () => lines.join("\n"),
    // What the process printed before it exited: wait (briefly) for the pipe to drain.
    settled: () => Promise.race([closed, delay(2000)]).then(() => lines.join("\n")),
  };
}

function awaitReady(child, file, listen, timeoutMs, tail) {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout, crlfDelay: Infinity });
    let done = false;
    const finish = (fn) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.off("exit", onExit);
      rl.off("line", onLine);
      fn();
    };
    const fail = (cause, text) => finish(() => reject(new MockStartError(cause, text)));
    const timer = setTimeout(() => {
      kill(child);
      fail(`${file} printed no ready line within ${timeoutMs / 1000} s`, tail.text());
    }, timeoutMs);
    const onLine = (line) => {
      const ready = parseReady(line);
      if (ready) return finish(() => resolve(ready));
      kill(child);
      fail(`${file} printed ${JSON.stringify(line.slice(0, 200))} instead of a JSON ready line: ` +
        "is it a reactor-harness with `mock --json`?", tail.text());
    };
    const onExit = (code, signal) => {
      tail.settled().then((text) => fail(exitCause(file, code ?? signal, listen, text), text));
    };
    rl.on("line", onLine);
    child.on("exit", onExit);
    child.once("error", (err) => fail(`cannot run ${file}: ${err.message}`));
  });
}

function parseReady(line) {
  let obj;
  try {
    obj = JSON.parse(line);
  } catch {
    return null;
  }
  const keys = ["base_url", "api_key", "admin_url", "pid"];
  if (obj === null || typeof obj !== "object" || obj.event !== "ready" || keys.some((k) => !(k in obj))) {
    return null;
  }
  return obj;
}

function exitCause(file, code, listen, tail) {
  const cause = `${file} exited with ${typeof code === "number" ? `code ${code}` : `signal ${code}`} before it was ready`;
  const hint = HINTS.find(([phrase]) => tail.includes(phrase));
  return hint ? `${cause}: ${hint[1](listen)}` : cause;
}

/** A running mock: its addresses, its admin API (see AdminClient) and stop(). */
export class ReactorMock extends AdminClient {
  constructor(child, binary, ready, tail) {
    super(ready);
    this.process = child;
    this.binary = binary;
    this._tail = tail;
    this._exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    });
    // A forgotten mock must not keep the test runner alive; when the runner exits, the
    // mock's stdin closes and it stops.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) s.unref?.();
    child.stdin.on("error", () => {}); // a mock that died first: nothing to write to anyway
  }

  get running() {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  stderrTail() {
    return this._tail.text();
  }

  /** Closes the mock's stdin (it then shuts down cleanly) and waits; terminates and kills it
   * if it lingers. Resolves with its exit code. Safe to call twice. */
  async stop() {
    if (this.running) {
      this.process.stdin.end();
      if (!(await within(this._exited, STOP_TIMEOUT_MS))) {
        this.process.kill("SIGTERM");
        if (!(await within(this._exited, 5000))) kill(this.process);
      }
    }
    await this._exited;
    return this.process.exitCode;
  }
}

// `await using mock = await startMock()` where the runtime knows explicit resource management.
if (typeof Symbol.asyncDispose === "symbol") {
  ReactorMock.prototype[Symbol.asyncDispose] = function dispose() {
    return this.stop();
  };
}

function kill(child) {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function within(promise, ms) {
  return Promise.race([promise.then(() => true), delay(ms).then(() => false)]);
}
