// Token resolvers for connect's `token` argument (drivers/PROTOCOL.md §3.4): the function an
// app hands an SDK that accepts one (js-sdk >= 2.10 `JwtResolver`), which mints a fresh JWT
// from POST /tokens each time the SDK asks, as the app's backend route would.

// What a mint spec may say, and of which kind each value is.
const MINT_KEYS = {
  expires_after: "int",
  models: "strings",
  sessions: "strings",
  max_sessions: "int",
  max_session_duration_seconds: "int",
};

// mintSpecProblem returns why `token` is not {"mint": {...}}, or null when it is.
export function mintSpecProblem(token) {
  if (token === null || typeof token !== "object" || Array.isArray(token)) return 'argument "token" must be an object {"mint": {...}}';
  const extra = Object.keys(token).filter((k) => k !== "mint");
  if (extra.length > 0) return `argument "token" takes only "mint", got ${extra.join(", ")}`;
  const mint = token.mint;
  if (mint === null || typeof mint !== "object" || Array.isArray(mint)) return 'argument "token.mint" must be an object (e.g. {"expires_after": 60})';
  for (const [k, v] of Object.entries(mint)) {
    const kind = MINT_KEYS[k];
    if (!kind) return `token.mint.${k} is unknown; allowed: ${Object.keys(MINT_KEYS).join(", ")}`;
    const ok = kind === "int" ? Number.isInteger(v) && v > 0 : Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string" && x !== "");
    if (!ok) return `token.mint.${k} must be ${kind === "int" ? "a positive integer" : "a non-empty array of non-empty strings"}`;
  }
  return null;
}

// mintBody is the POST /tokens body for a mint spec (PROTOCOL.md §1.1, §9.1).
export function mintBody(mint) {
  const body = {};
  if (mint.expires_after !== undefined) body.expires_after = mint.expires_after;
  const resources = {};
  if (mint.models) resources.models = { match: mint.models };
  if (mint.sessions) resources.sessions = { bind: mint.sessions };
  const constraints = {};
  if (mint.max_sessions !== undefined) constraints.max_sessions = mint.max_sessions;
  if (mint.max_session_duration_seconds !== undefined) constraints.max_session_duration_seconds = mint.max_session_duration_seconds;
  const detail = { type: "session" };
  if (Object.keys(resources).length > 0) detail.resources = resources;
  if (Object.keys(constraints).length > 0) detail.constraints = constraints;
  if (Object.keys(detail).length > 1) body.authorization_details = [detail];
  return body;
}

// tokenResolver returns `() => Promise<string>`; every call runs mintOnce(body) afresh (no
// caching: refresh is the SDK's decision) and reports the minted token to onMinted.
export function tokenResolver(mintOnce, mint, onMinted = () => {}) {
  const body = mintBody(mint);
  return async () => {
    const t = await mintOnce(structuredClone(body));
    onMinted(t);
    return t.jwt;
  };
}
