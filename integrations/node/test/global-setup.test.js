// The package's globalSetup (src/vitest.js) started the mock this file sees.
import { describe, expect, inject, test } from "vitest";

import { AdminClient } from "../src/index.js";
import { listening, postToken } from "./helpers.js";

describe("the vitest globalSetup", () => {
  const info = inject("reactorMock");

  test("provides the mock's addresses to test files", async () => {
    expect(info.base_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.admin_url).toBe(`${info.base_url}/__admin`);
    expect(info.pid).toBeGreaterThan(0);
    expect(await listening(info.base_url)).toBe(true);
  });

  test("and in the environment", () => {
    expect(process.env.REACTOR_MOCK_BASE_URL).toBe(info.base_url);
    expect(process.env.REACTOR_MOCK_API_KEY).toBe(info.api_key);
    expect(process.env.REACTOR_MOCK_ADMIN_URL).toBe(info.admin_url);
  });

  test("an AdminClient from those addresses drives the same mock", async () => {
    const mock = new AdminClient(info);
    await mock.reset();
    expect((await postToken(mock)).status).toBe(200);
    expect((await mock.journal()).map((e) => `${e.method} ${e.path}`)).toEqual(["POST /tokens"]);
  });
});
