// `npm run seed`: a demo programme in the local `default` space of a running `npm start`
// (scripts/demo-programme.json: points and XP, tiers, a daily streak with freezes and a
// 7-day badge, a welcome challenge, a weekly quiz, a "high rollers" segment with its own
// campaign, a reward with stock and codes, a webhook to the local receiver). Applied with
// PUT /programme, so running it twice changes nothing. Prints what to try next. It talks to
// the Admin API through the typed client, @loyalty-engine/client (packages/client).
//
//   BASE_URL        the service (default http://localhost:8787)
//   ADMIN_ROOT_KEY  the root key (default: the one npm start wrote to .dev.vars)
//   --json          print a JSON summary instead (tests use it)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { adminClient, unwrap, type Schema } from "@loyalty-engine/client";

const root = path.resolve(import.meta.dirname, "..");
const base = (process.env.BASE_URL || "http://localhost:8787").replace(/\/+$/, "");
const json = process.argv.includes("--json");

function rootKey(): string {
  if (process.env.ADMIN_ROOT_KEY) return process.env.ADMIN_ROOT_KEY;
  const devVars = path.join(root, ".dev.vars");
  const match = existsSync(devVars) ? /^ADMIN_ROOT_KEY=(.*)$/m.exec(readFileSync(devVars, "utf8")) : null;
  if (!match) throw new Error("no root key: start the service with `npm start` first (it writes .dev.vars), or set ADMIN_ROOT_KEY");
  return match[1]!.trim();
}

const key = rootKey();
const admin = adminClient({ baseUrl: base, key });

const programme: Schema<"Programme"> = JSON.parse(readFileSync(path.join(root, "scripts/demo-programme.json"), "utf8"));
const applied = await unwrap(admin.PUT("/api/loyalty/admin/programme", { body: programme }));

// The receiver verifies signatures with the endpoint's secret, shown once: keep it locally.
const stateDir = path.join(root, ".state");
const secretFile = path.join(stateDir, "demo-webhook-secret");
const secret = applied.secrets?.["webhooks/demo-receiver"];
if (secret) {
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
}

// Codes for the reward; codes already in the pool are ignored, so this is idempotent too.
const codes = Array.from({ length: 20 }, (_, i) => `SCARF-${String(i + 1).padStart(4, "0")}`);
const pool = await unwrap(admin.POST("/api/loyalty/admin/products/{id}/codes", { params: { path: { id: "gold-scarf" } }, body: { codes } }));
const { token } = await unwrap(admin.POST("/api/loyalty/admin/users/{userId}/token", { params: { path: { userId: "fan-1" } }, body: { ttlSeconds: 86_400 } }));

if (json) {
  console.log(JSON.stringify({ created: applied.created, updated: applied.updated, unchanged: applied.unchanged, codesAdded: pool.added, codesAvailable: pool.available, token }));
} else {
  const changed = applied.created.length + applied.updated.length;
  console.log(`Demo programme: ${changed === 0 ? "already up to date" : `${applied.created.length} created, ${applied.updated.length} updated`} (${applied.unchanged.length} unchanged)`);
  console.log(`Reward codes: ${pool.added} added, ${pool.available} available`);
  console.log(`\nAdmin key (the root key):\n  export ADMIN_ROOT_KEY=${key}`);
  console.log(`A user token for fan-1 (24 h):\n  export TOKEN=${token}`);
  console.log(`
Try it:
  curl -s ${base}/api/loyalty/admin/events -H "Authorization: Bearer $ADMIN_ROOT_KEY" -H "Content-Type: application/json" \\
    -d '{ "id": "demo-1", "userId": "fan-1", "type": "purchase", "data": { "amount": 1200 } }'
  curl -s ${base}/api/loyalty/me -H "Authorization: Bearer $TOKEN"
  curl -s ${base}/api/loyalty/me/catalog -H "Authorization: Bearer $TOKEN"
  curl -s ${base}/api/loyalty/admin/users/fan-1/redemptions -H "Authorization: Bearer $ADMIN_ROOT_KEY" -H "Content-Type: application/json" \\
    -d '{ "product": "gold-scarf" }'
Webhooks go to http://127.0.0.1:8788/webhooks: run \`npm run receiver\` to see them, verified.`);
}
