import type { ChildProcess } from "node:child_process";

/** What the mock's ready line says (snake_case) or the same in camelCase. */
export interface MockInfo {
  base_url?: string;
  api_key?: string;
  admin_url?: string;
  baseUrl?: string;
  apiKey?: string;
  adminUrl?: string;
  pid?: number;
}

export interface JournalEntry {
  seq: number;
  time: string;
  method?: string;
  path?: string;
  query?: string;
  status?: number;
  headers?: Record<string, string>;
  session_id?: string;
  body?: unknown;
  channel?: "data" | "control" | string;
  scope?: string;
  type?: string;
  data?: unknown;
  [field: string]: unknown;
}

export interface JournalFilters {
  session_id?: string;
  path_prefix?: string;
  method?: string;
  channel?: string;
  since?: number;
}

export class MockAdminError extends Error {
  status: number;
  detail: string;
}

export class MockStartError extends Error {
  cause: string;
  stderrTail: string;
}

export class AdminClient {
  constructor(info: MockInfo);
  baseUrl: string;
  apiKey: string;
  adminUrl: string;
  pid?: number;
  toJSON(): { base_url: string; api_key: string; admin_url: string; pid?: number };
  journal(filters?: JournalFilters): Promise<JournalEntry[]>;
  clearJournal(): Promise<void>;
  sessions(): Promise<Array<Record<string, unknown>>>;
  reset(): Promise<void>;
  scenario(spec?: Record<string, unknown> | string | URL): Promise<Record<string, unknown>>;
}

export class ReactorMock extends AdminClient {
  process: ChildProcess;
  binary: string;
  readonly running: boolean;
  stderrTail(): string;
  stop(): Promise<number | null>;
}

export interface StartOptions {
  /** Default: $REACTOR_HARNESS, then reactor-harness on PATH. */
  binary?: string;
  /** Default 127.0.0.1:0 (a free port). */
  listen?: string;
  apiKey?: string;
  /** A scenario file (YAML or JSON); also what reset() returns to. */
  scenario?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Default 30000. */
  startTimeoutMs?: number;
}

export const BINARY_NAME: string;
export const ENV_BINARY: string;
export const DEFAULT_START_TIMEOUT_MS: number;
export function findBinary(binary?: string): string;
export function startMock(options?: StartOptions): Promise<ReactorMock>;
