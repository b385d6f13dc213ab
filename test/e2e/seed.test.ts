import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Instance } from "./instance";
import { instanceForFile } from "./instance-for-file";

// `npm run seed` against a fresh `npm start`: the demo programme applies, and applying it
// again changes nothing; the printed token works on the User API.

const root = path.resolve(import.meta.dirname, "../..");

function seed(instance: Instance): { created: string[]; updated: string[]; unchanged: string[]; codesAdded: number; codesAvailable: number; token: string } {
  const out = execFileSync(process.execPath, ["--import", "tsx", path.join(root, "scripts/seed.ts"), "--json"], {
    cwd: root,
    env: { ...process.env, BASE_URL: instance.baseUrl, ADMIN_ROOT_KEY: instance.rootKey },
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

describe("npm run seed", () => {
  const instance = instanceForFile();

  it("creates the demo programme once; a second run changes nothing", async () => {
    const first = seed(instance);
    expect(first.created.length).toBeGreaterThanOrEqual(15);
    expect(first.updated).toEqual([]);
    expect(first.codesAdded).toBe(20);
    const second = seed(instance);
    expect(second.created).toEqual([]);
    expect(second.updated).toEqual([]);
    expect([...second.unchanged].sort()).toEqual([...first.created].sort());
    expect(second.codesAdded).toBe(0);
    expect(second.codesAvailable).toBe(20);

    // The demo works: a purchase over 1,000 makes fan-1 a high roller; the token reads it.
    const event = await fetch(`${instance.baseUrl}/api/loyalty/admin/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${instance.rootKey}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "seed-check-1", userId: "fan-1", type: "purchase", data: { amount: 1200 } }),
    });
    expect(event.status).toBe(201);
    const me = await (await fetch(`${instance.baseUrl}/api/loyalty/me`, { headers: { authorization: `Bearer ${second.token}` } })).json();
    expect(me).toMatchObject({ userId: "fan-1", segments: ["high-rollers"] });
  });
});
