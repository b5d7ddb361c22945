import type { StartOptions } from "./index.js";

export const PROVIDE_KEY: "reactorMock";

type Setup = (project?: { provide(key: string, value: unknown): void }) => Promise<() => Promise<void>>;

export function reactorMockSetup(options?: StartOptions): Setup;
declare const setup: Setup;
export default setup;

declare module "vitest" {
  export interface ProvidedContext {
    reactorMock: { base_url: string; api_key: string; admin_url: string; pid?: number };
  }
}
