import { describe, expect, it } from "vitest";
import {
  bodies,
  freshDefinitions,
  viaApp,
  viaSelf,
  type Answer,
  type Definitions,
} from "../helpers/definition-calls";

// Races between definition writes through the Worker (parallel SELF.fetch, real D1). Every
// write of a space's definitions is validated against one snapshot and committed only if
// the space's definitions version did not move (store.ts), so writes of a space are
// serialised: no lost update, no dangling reference, no double activation, no duplicate id.

/** Status and code of an answer, for outcome tables. */
const outcome = (a: Answer) => (a.status < 300 ? `${a.status}` : `${a.status} ${a.body?.code}`);

function tally(answers: Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) counts[outcome(a)] = (counts[outcome(a)] ?? 0) + 1;
  return counts;
}

/** Every answer's outcome must be one of `allowed`. */
function expectOutcomes(answers: Answer[], allowed: string[]): void {
  for (const a of answers) expect(allowed, `${outcome(a)}: ${a.text.slice(0, 300)}`).toContain(outcome(a));
}

describe("(a) concurrent PATCHes of one metric", () => {
  it("20 renames at once: each 200 or 409 conflict; every 200 got its own version; final version = 1 + number of 200s", async () => {
    const d = await freshDefinitions(viaSelf);
    await d.make("metrics", { id: "m", name: "Start", kind: "counter" });
    const v0 = await d.version();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => d.patch("metrics", "m", { name: `Name ${i}` })));
    expectOutcomes(answers, ["200", "409 conflict"]);
    const ok = answers.map((a, i) => ({ a, i })).filter(({ a }) => a.status === 200);
    expect(ok.length).toBeGreaterThan(0);

    const final = await d.get("metrics", "m");
    // Every 200 changed the name, so each moved the version once, to a version of its own.
    expect(final.body.version).toBe(1 + ok.length);
    expect(ok.map(({ a }) => a.body.version).sort((x, y) => x - y)).toEqual(Array.from({ length: ok.length }, (_, k) => k + 2));
    for (const { a, i } of ok) {
      expect(a.body.name).toBe(`Name ${i}`);
      expect(a.headers.get("etag")).toBe(`"${a.body.version}"`);
    }
    // The last write wins: the stored name is the one of the 200 with the highest version.
    const last = ok.reduce((x, y) => (y.a.body.version > x.a.body.version ? y : x));
    expect(final.body.name).toBe(`Name ${last.i}`);
    expect(await d.version()).toBe(v0 + ok.length);
  });

  it("20 PATCHes with the same If-Match: exactly one 200, the others 412 (no lost update)", async () => {
    const d = await freshDefinitions(viaSelf);
    await d.make("metrics", { id: "m", name: "Start", kind: "counter" });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => d.patch("metrics", "m", { name: `Name ${i}` }, { "If-Match": '"1"' })),
    );
    expectOutcomes(answers, ["200", "412 precondition_failed", "409 conflict"]);
    expect(tally(answers)["200"]).toBe(1);
    const winner = answers.findIndex((a) => a.status === 200);
    expect((await d.get("metrics", "m")).body).toMatchObject({ version: 2, name: `Name ${winner}` });
  });

  it("no-op PATCHes racing real changes never move the version on their own", async () => {
    const d = await freshDefinitions(viaSelf);
    await d.make("metrics", { id: "m", name: "Same", kind: "counter" });
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) => d.patch("metrics", "m", i % 4 === 0 ? { description: `d${i}` } : { name: "Same" })),
    );
    expectOutcomes(answers, ["200", "409 conflict"]);
    // Only the 4 description changes can change something.
    const changes = answers.filter((a, i) => i % 4 === 0 && a.status === 200).length;
    expect((await d.get("metrics", "m")).body.version).toBe(1 + changes);
  });
});

describe("(b) creating a referrer while deleting what it references", () => {
  /** Asserts that no live definition of the space references an archived or erased one. */
  async function expectNoDanglingReferences(d: Definitions): Promise<void> {
    const document = (await d.exportProgramme()).body;
    const live = new Set(Object.entries(document as Record<string, Array<{ id: string }>>).flatMap(([k, l]) => l.map((i) => `${k}/${i.id}`)));
    for (const campaign of document.campaigns) {
      for (const [i, step] of campaign.steps.entries()) {
        if (typeof step.trigger === "string") expect(live, `campaigns/${campaign.id} steps[${i}].trigger`).toContain(`triggers/${step.trigger}`);
        for (const effect of step.effects) {
          if (effect.metric) expect(live, `campaigns/${campaign.id} → ${effect.metric}`).toContain(`metrics/${effect.metric}`);
        }
      }
    }
    for (const segment of document.segments) {
      const path: string | undefined = segment.rule?.path;
      if (path?.startsWith("user.metrics.")) expect(live, `segments/${segment.id}`).toContain(`metrics/${path.split(".")[2]}`);
    }
  }

  it("campaign create (crediting metric M) vs DELETE of M, 20 rounds: never both succeed; no live campaign references an archived metric", async () => {
    const d = await freshDefinitions(viaSelf);
    await d.make("triggers", { id: "read", ...bodies.trigger() });
    const seen: Record<string, number> = {};
    for (let round = 0; round < 20; round++) {
      const metric = `m${round}`;
      await d.make("metrics", { id: metric, name: metric, kind: "currency" });
      const campaign = { id: `c${round}`, ...bodies.campaign("read"), effects: [{ type: "metric.add", metric, amount: 5 }] };
      // Alternate which request is sent first.
      const [created, deleted] =
        round % 2 === 0
          ? await Promise.all([d.create("campaigns", campaign), d.del("metrics", metric)])
          : await Promise.all([d.del("metrics", metric), d.create("campaigns", campaign)]).then(([x, y]) => [y, x] as const);
      const key = `${outcome(created)} / ${outcome(deleted)}`;
      seen[key] = (seen[key] ?? 0) + 1;
      expect(["201", "422 unknown_reference", "409 conflict"], key).toContain(outcome(created));
      expect(["204", "409 in_use", "409 conflict"], key).toContain(outcome(deleted));
      expect(created.status === 201 && deleted.status === 204, `both succeeded in round ${round}`).toBe(false);
      if (created.status === 201) {
        expect((await d.get("metrics", metric)).body.archivedAt, key).toBeNull();
        expect(deleted.body.referrers ?? [], key).toEqual(
          deleted.status === 409 && deleted.body.code === "in_use" ? [{ kind: "campaigns", id: `c${round}`, path: "effects[0].metric" }] : [],
        );
      }
      if (deleted.status === 204) {
        expect((await d.get("metrics", metric)).body.archivedAt, key).toEqual(expect.any(String));
        expect((await d.get("campaigns", `c${round}`)).status, key).toBe(404);
      }
    }
    await expectNoDanglingReferences(d);
    // Both orders of winning are legitimate; what matters is that they never both win.
    expect(Object.keys(seen).length, JSON.stringify(seen)).toBeGreaterThan(0);
  });

  it("dynamic segment (rule on user.metrics.M) and campaign (step trigger T) created while M and T are deleted, 10 rounds", async () => {
    const d = await freshDefinitions(viaSelf);
    for (let round = 0; round < 10; round++) {
      const metric = `m${round}`;
      const trigger = `t${round}`;
      await d.make("metrics", { id: metric, name: metric, kind: "counter" });
      await d.make("triggers", { id: trigger, ...bodies.trigger(`e${round}`) });
      const [segment, deletedMetric, campaign, erasedTrigger] = await Promise.all([
        d.create("segments", { id: `s${round}`, name: "S", type: "dynamic", rule: { path: `user.metrics.${metric}.balance`, op: "gte", value: 1 } }),
        d.del("metrics", metric),
        d.create("campaigns", { id: `c${round}`, ...bodies.campaign(trigger) }),
        d.del("triggers", trigger),
      ]);
      expect(segment.status === 201 && deletedMetric.status === 204, `metric round ${round}: ${outcome(segment)} / ${outcome(deletedMetric)}`).toBe(false);
      expect(campaign.status === 201 && erasedTrigger.status === 204, `trigger round ${round}: ${outcome(campaign)} / ${outcome(erasedTrigger)}`).toBe(false);
      expectOutcomes([segment, campaign], ["201", "422 unknown_reference", "409 conflict"]);
      expectOutcomes([deletedMetric, erasedTrigger], ["204", "409 in_use", "409 conflict"]);
    }
    await expectNoDanglingReferences(d);
  });
});

describe("(c) activating many campaigns at once under MAX_ACTIVE_CAMPAIGNS", () => {
  it("10 concurrent activations with a limit of 3: exactly 3 end active, the rest 409 limit_reached (or conflict)", async () => {
    const limited = viaApp({ MAX_ACTIVE_CAMPAIGNS: "3" });
    const d = await freshDefinitions(limited);
    await d.make("triggers", { id: "read", ...bodies.trigger() });
    for (let i = 0; i < 10; i++) await d.make("campaigns", { id: `c${i}`, ...bodies.campaign("read") });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => d.patch("campaigns", `c${i}`, { status: "active" })));
    expectOutcomes(answers, ["200", "409 limit_reached", "409 conflict"]);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(3);
    const active = (await d.list("campaigns")).filter((c) => c.status === "active");
    expect(active).toHaveLength(3);
    expect(active.map((c) => c.id).sort()).toEqual(
      answers.flatMap((a, i) => (a.status === 200 ? [`c${i}`] : [])).sort(),
    );
    // The limit still holds sequentially afterwards.
    const one = answers.findIndex((a) => a.status !== 200);
    expect(outcome(await d.patch("campaigns", `c${one}`, { status: "active" }))).toBe("409 limit_reached");
  });

  it("the same through the programme document and single writes racing: never more than the limit", async () => {
    const limited = viaApp({ MAX_ACTIVE_CAMPAIGNS: "2" });
    const d = await freshDefinitions(limited);
    await d.make("triggers", { id: "read", ...bodies.trigger() });
    for (let i = 0; i < 4; i++) await d.make("campaigns", { id: `c${i}`, ...bodies.campaign("read") });
    const document = { campaigns: [0, 1].map((i) => ({ id: `c${i}`, ...bodies.campaign("read"), status: "active" })) };
    const answers = await Promise.all([
      d.applyProgramme(document),
      d.patch("campaigns", "c2", { status: "active" }),
      d.patch("campaigns", "c3", { status: "active" }),
    ]);
    expectOutcomes(answers, ["200", "409 limit_reached", "409 conflict"]);
    const active = (await d.list("campaigns")).filter((c) => c.status === "active");
    expect(active.length).toBeLessThanOrEqual(2);
    expect(active.length).toBeGreaterThan(0);
  });
});

describe("(d) concurrent creates with the same chosen id", () => {
  for (const kind of ["metrics", "triggers", "webhooks", "campaigns"] as const) {
    it(`${kind}: 10 POSTs of one id → exactly one 201, the others 409 already_exists (or conflict)`, async () => {
      const d = await freshDefinitions(viaSelf);
      await d.make("triggers", { id: "read", ...bodies.trigger() });
      const body: Record<string, Record<string, unknown>> = {
        metrics: { id: "same", ...bodies.currency() },
        triggers: { id: "same", ...bodies.trigger("x") },
        webhooks: { id: "same", url: "https://hooks.example.com/x", events: ["*"] },
        campaigns: { id: "same", ...bodies.campaign("read") },
      };
      // Slightly different bodies, so the winner is identifiable.
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          d.create(kind, { ...body[kind], ...(kind === "webhooks" ? { description: `n${i}` } : { name: `n${i}` }) }),
        ),
      );
      expectOutcomes(answers, ["201", "409 already_exists", "409 conflict"]);
      const created = answers.filter((a) => a.status === 201);
      expect(created).toHaveLength(1);
      const stored = await d.get(kind, "same");
      expect(stored.body).toMatchObject({ version: 1 });
      expect(stored.body.createdAt).toBe(created[0]!.body.createdAt);
      const label = kind === "webhooks" ? "description" : "name";
      expect(stored.body[label]).toBe(created[0]!.body[label]);
      if (kind === "webhooks") {
        expect(answers.filter((a) => typeof a.body?.secret === "string")).toHaveLength(1);
      }
      expect((await d.list(kind, true)).filter((x) => x.id === "same")).toHaveLength(1);
    });
  }

  it("PUT with If-None-Match: * from 10 clients → exactly one 201, the others 412", async () => {
    const d = await freshDefinitions(viaSelf);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => d.put("segments", "vip", { name: `VIP ${i}`, type: "static" }, { "If-None-Match": "*" })),
    );
    expectOutcomes(answers, ["201", "412 precondition_failed", "409 conflict"]);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect((await d.get("segments", "vip")).body.version).toBe(1);
  });

  it("two programme documents applied at once with the same If-Match: exactly one lands", async () => {
    const d = await freshDefinitions(viaSelf);
    const etag = (await d.exportProgramme()).headers.get("etag")!;
    const [a, b] = await Promise.all([
      d.applyProgramme({ metrics: [{ id: "a", name: "A", kind: "counter" }] }, "", { "If-Match": etag }),
      d.applyProgramme({ metrics: [{ id: "b", name: "B", kind: "counter" }] }, "", { "If-Match": etag }),
    ]);
    expectOutcomes([a, b], ["200", "412 precondition_failed", "409 conflict"]);
    expect([a, b].filter((x) => x.status === 200)).toHaveLength(1);
    expect((await d.list("metrics")).map((m) => m.id)).toEqual([a.status === 200 ? "a" : "b"]);
  });
});

describe("writes of different spaces do not contend", () => {
  it("20 creates spread over 4 spaces at once: every space ends with exactly its own successful creates", async () => {
    const spaces = await Promise.all(Array.from({ length: 4 }, () => freshDefinitions(viaSelf)));
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => spaces[i % 4]!.create("metrics", { id: `m${Math.floor(i / 4)}`, ...bodies.currency() })),
    );
    // Within one space the 5 creates still race each other (retries may run out: conflict).
    expectOutcomes(answers, ["201", "409 conflict"]);
    for (const d of spaces) {
      const ids = (await d.list("metrics")).map((m) => m.id);
      expect(ids.length).toBe(answers.filter((a, i) => spaces[i % 4] === d && a.status === 201).length);
    }
  });
});
