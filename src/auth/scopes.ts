// Admin API scopes (SPEC §3.2) and the one table that says which scope each request
// needs. The table is consulted by the admin middleware before routing, so a route
// added later is covered by default: a GET needs `read`, anything else `admin`, unless a
// rule below says otherwise.

export const SCOPES = ["admin", "events:write", "users:write", "read"] as const;
export type Scope = (typeof SCOPES)[number];

/** `root`: only the deployment's ADMIN_ROOT_KEY (managing spaces themselves). */
export type Requirement = Scope | "root";

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "*";

/** Paths are relative to /api/loyalty/admin. First match wins. */
const RULES: Array<{ method: Method; path: RegExp; needs: Requirement }> = [
  { method: "*", path: /^\/spaces\/?$/, needs: "root" },
  // Ingestion, single or batch.
  { method: "POST", path: /^\/events(\/batch)?\/?$/, needs: "events:write" },
  // Erasure is irreversible: admin only, not users:write.
  { method: "DELETE", path: /^\/users\/[^/]+\/?$/, needs: "admin" },
  // Adjustments, grants, redemptions, tokens, reversals (POST); profiles (PUT/PATCH);
  // segment membership and push subscriptions (PUT/DELETE); revocations (DELETE).
  { method: "POST", path: /^\/users\/[^/]+\/.+$/, needs: "users:write" },
  { method: "PUT", path: /^\/users\/[^/]+(\/.*)?$/, needs: "users:write" },
  { method: "PATCH", path: /^\/users\/[^/]+\/?$/, needs: "users:write" },
  { method: "DELETE", path: /^\/users\/[^/]+\/.+$/, needs: "users:write" },
  // Unallocated reward codes are secrets: `read` may not list them.
  { method: "GET", path: /^\/products\/[^/]+\/codes/, needs: "admin" },
  { method: "GET", path: /.*/, needs: "read" },
  { method: "*", path: /.*/, needs: "admin" },
];

export function requirementFor(method: string, adminPath: string): Requirement {
  const m = method === "HEAD" ? "GET" : method;
  for (const rule of RULES) {
    if ((rule.method === "*" || rule.method === m) && rule.path.test(adminPath)) return rule.needs;
  }
  return "admin";
}

export function scopesAllow(scopes: readonly Scope[], needs: Requirement): boolean {
  if (needs === "root") return false;
  return scopes.includes("admin") || scopes.includes(needs);
}
