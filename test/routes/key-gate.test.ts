import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { announceRevocation, ApiKeyGate, checkKey, KEY_RECHECK_MS, keyGateOf, type KeyGrant } from "../../src/auth/key-gate";
import { ApiError } from "../../src/errors";
import { sha256Hex } from "../../src/crypto/hash";
import { call, createKey, createSpace, expectProblem } from "../helpers/harness";

// Admin API keys are answered by gate objects that keep them in memory (src/auth/key-gate.ts).
// A revocation must still be effective for the very next request (SPEC §3.2), whatever
// the gate was doing when it arrived.

const KEYS = "/api/loyalty/admin/api-keys";

type GateInternals = {
  readGrant: (hash: string) => Promise<KeyGrant | undefined>;
  known: Map<string, { grant: KeyGrant; readAt: number }>;
};
const internals = (gate: ApiKeyGate) => gate as unknown as GateInternals;

async function revokeInD1(keyId: string, at: number): Promise<void> {
  await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").bind(at, keyId).run();
}

describe("API key gates", () => {
  it("a check whose D1 read began before a revocation and ended after it answers the revocation", async () => {
    const space = await createSpace();
    const key = await createKey(space, ["admin"]);
    const hash = await sha256Hex(key.secret);

    await runInDurableObject(keyGateOf(env, hash), async (gate: ApiKeyGate) => {
      const realRead = internals(gate).readGrant.bind(gate);
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let reads = 0;
      let readBegun!: () => void;
      const begun = new Promise<void>((resolve) => (readBegun = resolve));
      internals(gate).readGrant = async (h) => {
        reads += 1;
        const grant = await realRead(h);
        if (reads === 1) {
          readBegun();
          await released; // the row read while the key was active arrives after the revocation
        }
        return grant;
      };

      const check = gate.grantFor(hash);
      await begun;
      const at = Date.now();
      await revokeInD1(key.id, at);
      await gate.revoke(hash, at);
      release();

      expect((await check)?.revokedAt).toBe(at);
      expect(reads).toBe(2);
      expect((await gate.grantFor(hash))?.revokedAt).toBe(at);
      expect(reads).toBe(2); // remembered, not read again
    });
    await expectProblem(await call(KEYS, { key: key.secret }), 401, "invalid_credential");
  });

  it("an unknown secret is not remembered: a key stored a moment later is accepted", async () => {
    const space = await createSpace();
    const secret = `lk_${crypto.randomUUID().replaceAll("-", "")}${crypto.randomUUID().replaceAll("-", "")}`;
    await expectProblem(await call(KEYS, { key: secret }), 401, "invalid_credential");
    await env.DB.prepare("INSERT INTO api_keys (id, space_id, name, scopes, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)")
      .bind(`key_gate_${Date.now()}`, space.id, "stored later", JSON.stringify(["read"]), await sha256Hex(secret), Date.now())
      .run();
    expect((await call(KEYS, { key: secret })).status).toBe(200);
  });

  it("a revocation written to D1 behind the API's back is seen once the gate re-reads the key", async () => {
    const space = await createSpace();
    const key = await createKey(space, ["read"]);
    const hash = await sha256Hex(key.secret);
    expect((await call(KEYS, { key: key.secret })).status).toBe(200);
    const at = Date.now();
    await revokeInD1(key.id, at);

    await runInDurableObject(keyGateOf(env, hash), async (gate: ApiKeyGate) => {
      expect((await gate.grantFor(hash))?.revokedAt).toBeNull(); // still remembered as read
      internals(gate).known.get(hash)!.readAt -= KEY_RECHECK_MS;
      expect((await gate.grantFor(hash))?.revokedAt).toBe(at);
    });
    await expectProblem(await call(KEYS, { key: key.secret }), 401, "invalid_credential");
  });

  it("requests racing a revocation: every request sent after the DELETE was answered is refused", async () => {
    const space = await createSpace();
    const key = await createKey(space, ["admin"]);
    const other = await createKey(space, ["admin"]);
    const during = Array.from({ length: 20 }, () => call(KEYS, { key: key.secret }).then((r) => r.status));
    const revoked = await call(`${KEYS}/${key.id}`, { method: "DELETE", key: other.secret });
    expect(revoked.status).toBe(204);
    for (const status of await Promise.all(during)) expect([200, 401]).toContain(status);
    const after = await Promise.all(Array.from({ length: 20 }, () => call(KEYS, { key: key.secret }).then((r) => r.status)));
    expect(after).toEqual(Array(20).fill(401));
    expect((await call(KEYS, { key: other.secret })).status).toBe(200);
  });

  it("a gate that cannot be reached is 503 unavailable with Retry-After, for a check and for a revocation", async () => {
    // The namespace stands in for a gate object that is down (reset, overloaded).
    const down = { ...env, LOG_LEVEL: "error", API_KEY_GATES: { getByName: () => ({ grantFor: () => Promise.reject(new Error("reset")), revoke: () => Promise.reject(new Error("reset")) }) } } as unknown as typeof env;
    for (const attempt of [() => checkKey(down, "ab".repeat(32)), () => announceRevocation(down, "ab".repeat(32), Date.now())]) {
      const error = await attempt().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ code: "unavailable", status: 503, headers: { "Retry-After": "1" } });
    }
  });

  it("a key is answered by one of 16 gates chosen by its hash", () => {
    const names = new Set<string>();
    for (let i = 0; i < 256; i++) names.add(keyGateOf(env, i.toString(16).padStart(2, "0") + "0".repeat(62)).id.toString());
    expect(names.size).toBe(16);
  });
});
