import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { uniqueSlug } from "../helpers/harness";

// Data migrations of D1 (migrations/*.sql that change rows, not only the schema): each is
// replayed here on rows as they were before it, the way a deployment applies it once.

/** The statements of one migration, as the pool read them (vitest.config.ts). */
function statementsOf(name: string): string[] {
  const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith(name));
  if (!migration) throw new Error(`no migration ${name}`);
  return migration.queries;
}

describe("0008_legacy_push_gateway", () => {
  it("clears a gateway URL stored without a secret (and moves both versions); a space with a secret, or without a gateway, is untouched", async () => {
    const rows = {
      legacy: { push: { allowedHosts: ["fcm.googleapis.com"], contact: "mailto:a@example.com", gatewayUrl: "https://push.example.com/relay" } },
      withSecret: { push: { allowedHosts: ["fcm.googleapis.com"], contact: "mailto:a@example.com", gatewayUrl: "https://push.example.com/relay", gatewaySecret: "v1.k1.sealed" } },
      noGateway: { push: { allowedHosts: ["fcm.googleapis.com"], contact: "mailto:a@example.com", gatewayUrl: null } },
      defaults: { push: null },
    };
    const ids: Record<string, string> = {};
    for (const [label, { push }] of Object.entries(rows)) {
      ids[label] = `spc_mig_${uniqueSlug(label)}`;
      await env.DB.prepare(
        `INSERT INTO spaces (id, slug, name, timezone, push, version, definitions_version, created_at, updated_at) VALUES (?, ?, ?, 'UTC', ?, 3, 7, 1, 1)`,
      )
        .bind(ids[label], uniqueSlug(`mig-${label}`.toLowerCase()), label, push === null ? null : JSON.stringify(push))
        .run();
    }
    for (const statement of statementsOf("0008_")) await env.DB.prepare(statement).run();
    const after = async (label: string) =>
      env.DB.prepare(`SELECT push, version, definitions_version AS definitionsVersion, updated_at AS updatedAt FROM spaces WHERE id = ?`)
        .bind(ids[label])
        .first<{ push: string | null; version: number; definitionsVersion: number; updatedAt: number }>();

    const legacy = (await after("legacy"))!;
    expect(JSON.parse(legacy.push!)).toEqual({ ...rows.legacy.push, gatewayUrl: null });
    expect({ version: legacy.version, definitionsVersion: legacy.definitionsVersion }).toEqual({ version: 4, definitionsVersion: 8 });
    expect(legacy.updatedAt).toBeGreaterThan(1);
    for (const label of ["withSecret", "noGateway", "defaults"] as const) {
      const row = (await after(label))!;
      expect(row.push === null ? null : JSON.parse(row.push), label).toEqual(rows[label].push);
      expect({ version: row.version, definitionsVersion: row.definitionsVersion, updatedAt: row.updatedAt }, label).toEqual({ version: 3, definitionsVersion: 7, updatedAt: 1 });
    }
  });
});
