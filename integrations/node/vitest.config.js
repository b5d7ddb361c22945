// The package's own suites. The globalSetup is the package's own (src/vitest.js), so the run
// itself proves it: every file that injects "reactorMock" talks to the mock it started.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.js"],
    globalSetup: ["./src/vitest.js"],
    // Forks, not threads: the WebRTC addon (@roamhq/wrtc) is a native module.
    pool: "forks",
    // The files share the one global mock, and some reset it.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
