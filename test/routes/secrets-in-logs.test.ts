import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import type { Env } from "../../src/env";
import { requestOf, type CallOptions } from "../helpers/harness";

// SPEC §10: secrets and tokens are never logged (nor echoed). Every kind of secret the
// service handles goes through it with logging at `debug` — API keys, the root key, user
// tokens, webhook signing secrets (create and rotate), an IdP HMAC secret, and wrong
// credentials presented to it — and everything written to the console is searched for
// them afterwards.

const verbose = { ...env, LOG_LEVEL: "debug" } as unknown as Env;

async function send(path: string, options: CallOptions = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch!(requestOf(path, options) as Request<unknown, IncomingRequestCfProperties>, verbose, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

afterEach(() => vi.restoreAllMocks());

describe("secrets never reach the logs", () => {
  it("keys, tokens and signing secrets handled at debug level appear in no log line", async () => {
    const lines: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map(String).join(" "));
      });
    }
    const slug = `logs-${Date.now().toString(36)}`;
    const hmac = "hs256-secret-that-must-not-be-logged-0123456789";
    const created = await send("/api/loyalty/admin/spaces", { body: { slug, name: "Logs" } });
    expect(created.status).toBe(201);
    const key = (await (await send("/api/loyalty/admin/api-keys", { space: slug, body: { name: "k", scopes: ["admin"] } })).json()) as { secret: string };
    const token = (await (await send("/api/loyalty/admin/users/u1/token", { space: slug, key: key.secret, body: {} })).json()) as { token: string };
    const hook = (await (await send("/api/loyalty/admin/webhooks", { space: slug, key: key.secret, body: { url: "https://hooks.example.com/x", events: ["*"] } })).json()) as { secret: string };
    const rotated = (await (await send(`/api/loyalty/admin/webhooks/${(hook as unknown as { id: string }).id}/rotate-secret`, { space: slug, key: key.secret, method: "POST" })).json()) as { secret: string };
    const patched = await send(`/api/loyalty/admin/spaces/${slug}`, { method: "PATCH", space: slug, body: { auth: { issuer: "https://idp.example.com", audience: "loyalty", hs256Secret: hmac } } });
    expect(patched.status).toBe(200);
    // Reads with the secrets, and wrong credentials that look like real ones.
    expect((await send("/api/loyalty/me", { key: null, space: slug, headers: { Authorization: `Bearer ${token.token}` } })).status).toBeLessThan(500);
    const wrongKey = `lk_${"x".repeat(43)}`;
    expect((await send("/api/loyalty/admin/metrics", { key: wrongKey, space: slug })).status).toBe(401);
    const wrongToken = `${token.token.slice(0, -4)}AAAA`;
    expect((await send("/api/loyalty/me", { key: null, space: slug, headers: { Authorization: `Bearer ${wrongToken}` } })).status).toBe(401);
    await send("/api/loyalty/admin/metrics", { key: `${env.ADMIN_ROOT_KEY}x`, space: slug });

    const secrets = [key.secret, token.token, hook.secret, rotated.secret, hmac, env.ADMIN_ROOT_KEY!, wrongKey, wrongToken];
    for (const secret of secrets) expect(secret.length).toBeGreaterThan(20);
    const logged = lines.join("\n");
    expect(lines.length).toBeGreaterThan(0); // debug logging really was on
    for (const secret of secrets) expect(logged.includes(secret), `a log line contains ${secret.slice(0, 8)}…`).toBe(false);
    // Token parts (the signature) must not leak either.
    expect(logged.includes(token.token.split(".")[2]!)).toBe(false);
  });
});
