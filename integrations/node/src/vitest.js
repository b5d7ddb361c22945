// A vitest globalSetup: one mock for the whole run, its addresses handed to every test file.
//
//   // vitest.config.js
//   export default { test: { globalSetup: ["reactor-harness-mock/vitest"] } };
//
//   // a test
//   import { inject } from "vitest";
//   import { AdminClient } from "reactor-harness-mock";
//   const mock = new AdminClient(inject("reactorMock"));
//
// The addresses are also in process.env (REACTOR_MOCK_BASE_URL, REACTOR_MOCK_API_KEY,
// REACTOR_MOCK_ADMIN_URL), which test workers inherit. For options, export your own:
//
//   export default reactorMockSetup({ scenario: "fixtures/slow.yaml" });

import { startMock } from "./index.js";

export const PROVIDE_KEY = "reactorMock";

/** A globalSetup function that starts a mock with startMock(options). */
export function reactorMockSetup(options = {}) {
  return async function setup(project) {
    const mock = await startMock(options);
    const info = mock.toJSON();
    project?.provide?.(PROVIDE_KEY, info);
    process.env.REACTOR_MOCK_BASE_URL = info.base_url;
    process.env.REACTOR_MOCK_API_KEY = info.api_key;
    process.env.REACTOR_MOCK_ADMIN_URL = info.admin_url;
    return async function teardown() {
      await mock.stop();
    };
  };
}

export default reactorMockSetup();
