import { readFileSync } from "node:fs";
import { adminClient, isProblem, ProblemError, unwrap, userClient } from "@loyalty-engine/client";
import { describe, expect, it } from "vitest";
import { documentPath, generateSchema, schemaPath } from "../../packages/client/scripts/generate";
import { instanceForFile } from "./instance-for-file";

// @loyalty-engine/client (packages/client) against a real `npm start`: its committed OpenAPI
// snapshot and types are exactly what this code serves (so they cannot drift), and the
// README quickstart works through it.

const REGENERATE = "run `npm run client:generate`";

describe("@loyalty-engine/client", () => {
  const instance = instanceForFile();

  it("is generated from the OpenAPI document the service serves", async () => {
    const response = await fetch(`${instance.baseUrl}/api/loyalty/openapi.json`);
    expect(response.status).toBe(200);
    const committed = JSON.parse(readFileSync(documentPath, "utf8"));
    expect(await response.json(), `packages/client/openapi.json differs from the live document: ${REGENERATE}`).toEqual(committed);
    expect(generateSchema(committed), `packages/client/src/schema.ts is not what openapi.json generates: ${REGENERATE}`).toBe(readFileSync(schemaPath, "utf8"));
  });

  it("runs the quickstart: a metric, a campaign, an event, a user token, /me", async () => {
    const admin = adminClient({ baseUrl: instance.baseUrl, key: instance.rootKey });

    const metric = await unwrap(admin.PUT("/api/loyalty/admin/metrics/{id}", { params: { path: { id: "points" } }, body: { name: "Points", kind: "currency" } }));
    expect(metric).toMatchObject({ id: "points", name: "Points", kind: "currency", initial: 0, version: 1 });

    const campaign = await unwrap(
      admin.PUT("/api/loyalty/admin/campaigns/{id}", {
        params: { path: { id: "first-read" } },
        body: {
          name: "First article",
          status: "active",
          steps: [{ id: "read", name: "Read an article", trigger: { eventType: "article_read" }, effects: [{ type: "metric.add", metric: "points", amount: 10 }] }],
        },
      }),
    );
    expect(campaign).toMatchObject({ id: "first-read", status: "active", steps: [{ id: "read", target: 1 }], version: 1 });

    const { data: event, response } = await admin.POST("/api/loyalty/admin/events", { body: { id: "evt-1", userId: "u_42", type: "article_read", data: { articleId: "a-17" } } });
    expect(response.status).toBe(201);
    expect(event).toMatchObject({
      eventId: "evt-1",
      userId: "u_42",
      duplicate: false,
      outcome: {
        campaignsCompleted: [{ campaign: "first-read", completions: 1 }],
        effects: [{ campaign: "first-read", type: "metric.add", metric: "points", amount: 10, status: "applied" }],
      },
    });

    const { token, expiresAt } = await unwrap(admin.POST("/api/loyalty/admin/users/{userId}/token", { params: { path: { userId: "u_42" } }, body: { ttlSeconds: 3600 } }));
    expect(typeof token).toBe("string");
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now());

    const user = userClient({ baseUrl: instance.baseUrl, token });
    expect(await unwrap(user.GET("/api/loyalty/me"))).toMatchObject({ userId: "u_42", space: "default" });
    const points = await unwrap(user.GET("/api/loyalty/me/metrics/{id}", { params: { path: { id: "points" } } }));
    expect(points).toMatchObject({ metric: "points", balance: 10, lifetime: 10 });
  });

  it("gives problem+json errors typed, and as a ProblemError from unwrap", async () => {
    const admin = adminClient({ baseUrl: instance.baseUrl, key: instance.rootKey });
    const { data, error, response } = await admin.POST("/api/loyalty/admin/api-keys", {
      // @ts-expect-error the types reject the scope the service rejects
      body: { name: "bad", scopes: ["superuser"] },
    });
    expect(data).toBeUndefined();
    expect(response.status).toBe(400);
    expect(error).toMatchObject({ status: 400, code: "invalid_request", errors: [{ path: "scopes[0]" }] });
    expect(isProblem(error)).toBe(true);

    const failure = await unwrap(admin.GET("/api/loyalty/admin/metrics/{id}", { params: { path: { id: "missing" } } })).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ProblemError);
    expect(failure).toMatchObject({ status: 404, code: "not_found", problem: { status: 404, code: "not_found" } });

    const stranger = userClient({ baseUrl: instance.baseUrl, token: "not-a-token" });
    await expect(unwrap(stranger.GET("/api/loyalty/me"))).rejects.toMatchObject({ status: 401 });
  });

  it("sends the space with X-Loyalty-Space", async () => {
    const root = adminClient({ baseUrl: instance.baseUrl, key: instance.rootKey });
    await unwrap(root.POST("/api/loyalty/admin/spaces", { body: { slug: "acme", name: "Acme" } }));
    const acme = adminClient({ baseUrl: instance.baseUrl, key: instance.rootKey, space: "acme" });
    await unwrap(acme.PUT("/api/loyalty/admin/metrics/{id}", { params: { path: { id: "stars" } }, body: { name: "Stars", kind: "currency" } }));
    expect(await unwrap(acme.GET("/api/loyalty/admin/metrics/{id}", { params: { path: { id: "stars" } } }))).toMatchObject({ id: "stars" });
    const { response } = await root.GET("/api/loyalty/admin/metrics/{id}", { params: { path: { id: "stars" } } });
    expect(response.status).toBe(404);
  });
});

// Compile-time only (npm run typecheck): each client has only its own API's paths.
export function typeChecks(admin: ReturnType<typeof adminClient>, user: ReturnType<typeof userClient>): void {
  // @ts-expect-error the admin client has no User API paths
  void admin.GET("/api/loyalty/me");
  // @ts-expect-error the user client has no Admin API paths
  void user.GET("/api/loyalty/admin/users");
  // @ts-expect-error path parameters are required
  void admin.GET("/api/loyalty/admin/metrics/{id}");
  // Definition bodies are typed by their kind's schema (the document's MetricBody … WebhookBody).
  void admin.POST("/api/loyalty/admin/metrics", { body: { id: "pts", name: "Points", kind: "currency" } });
  // @ts-expect-error a metric's kind is one of currency, counter, gauge
  void admin.POST("/api/loyalty/admin/metrics", { body: { name: "Points", kind: "coins" } });
  // @ts-expect-error a condition's op is one of the language's operators
  void admin.PUT("/api/loyalty/admin/segments/{id}", { params: { path: { id: "vip" } }, body: { name: "VIP", type: "dynamic", rule: { path: "user.metrics.points.balance", op: "above", value: 100 } } });
}
