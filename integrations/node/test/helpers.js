// Shared by the suites: loopback probes and throwaway fake binaries.
import { mkdtempSync, writeFileSync, chmodSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export function listening(baseUrl) {
  const u = new URL(baseUrl);
  return new Promise((resolve) => {
    const sock = net.connect({ host: u.hostname, port: Number(u.port) });
    sock.setTimeout(1000);
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
    sock.once("timeout", () => {
      sock.destroy();
      resolve(false);
    });
  });
}

/** Polls until nothing listens at baseUrl; false after ~10 s. */
export async function waitNotListening(baseUrl) {
  for (let i = 0; i < 100; i++) {
    if (!(await listening(baseUrl))) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export function tempDir() {
  return mkdtempSync(path.join(os.tmpdir(), "reactor-mock-test-"));
}

/** An executable Node script standing in for a wrong or broken binary. */
export function fakeBinary(body) {
  const file = path.join(tempDir(), "fake-harness");
  writeFileSync(file, `#!${process.execPath}\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

export async function postToken(mock, body = "{}") {
  const res = await fetch(`${mock.baseUrl}/tokens`, {
    method: "POST",
    headers: { "Reactor-API-Key": mock.apiKey, "Content-Type": "application/json" },
    body,
  });
  return res;
}
