// A runner that dies by SIGKILL (no cleanup code runs) leaves no mock behind.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

import { waitNotListening } from "./helpers.js";

const INDEX = fileURLToPath(new URL("../src/index.js", import.meta.url));

test("the mock of a killed runner stops listening", async () => {
  const runner = `
    const { startMock } = await import(${JSON.stringify(INDEX)});
    const mock = await startMock();
    console.log(mock.baseUrl);
    process.kill(process.pid, "SIGKILL");
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", runner], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (b) => (out += b));
  const signal = await new Promise((resolve) => child.once("exit", (_code, sig) => resolve(sig)));
  expect(signal).toBe("SIGKILL");
  const baseUrl = out.trim();
  expect(baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(await waitNotListening(baseUrl), `the mock at ${baseUrl} outlived its runner by 10 s`).toBe(true);
});
