import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/errors";
import { DEFINITION_KINDS, type DefinitionKind } from "../../src/definitions/types";
import { freshDefinitions, viaApp, type Answer, type Definitions } from "../helpers/definition-calls";

// Property-based tests of every create route (SPEC §2, §4, §10): hostile bodies — random
// JSON, objects made of the kind's real field names with hostile values (wrong types,
// strings up to ~70 KiB, deep nesting, unicode edge cases, numbers beyond the safe range
// as raw JSON text, __proto__/constructor keys) and valid bodies with one node replaced.
// Every answer is 201 or a 4xx problem (never a 5xx); a 4xx stores nothing (the kind's
// list with archived ones and the space's definitions version do not move).
//
// Requests go to the Worker app in-process (real workerd, real D1): SELF's per-request
// cost grows with every request it serves (see test/helpers/definition-calls.ts).

/** Random runs per kind, on top of the fixed examples. */
const RUNS = 50;
const transport = viaApp();

// Bodies ---------------------------------------------------------------------------

/** A valid body per kind, against the references `seed` creates. */
const VALID: Record<DefinitionKind, Record<string, unknown>> = {
  metrics: { name: "Stars", description: "d", kind: "counter", initial: 0, min: null, max: 100 },
  products: {
    type: "reward",
    name: "Scarf",
    imageUrl: "https://img.example.com/s.png",
    price: { metric: "points", amount: 5 },
    stock: 10,
    perUserLimit: 2,
    metadata: { rarity: "rare" },
  },
  segments: {
    name: "Big",
    type: "dynamic",
    rule: {
      all: [
        { path: "user.metrics.points.balance", op: "gte", value: 10 },
        { any: [{ path: "user.attributes.country", op: "in", value: ["GB", "IE"] }, { not: { path: "user.ladders.tiers.level", op: "eq", value: "gold" } }] },
      ],
    },
  },
  ladders: {
    name: "Ranks",
    metric: "points",
    basis: "lifetime",
    demotion: false,
    levels: [
      { id: "a", name: "A", threshold: 0 },
      { id: "b", name: "B", threshold: 10 },
    ],
  },
  streaks: {
    name: "Weekly",
    period: "week",
    weekStart: "sunday",
    timezoneMode: "fixed",
    timezone: "Europe/London",
    freezes: { initial: 1, max: 2 },
    graceMinutes: 30,
  },
  triggers: { name: "Big purchase", eventType: "purchase", conditions: { path: "event.data.amount", op: "between", value: [50, 500] } },
  webhooks: { url: "https://hooks.example.com/in", events: ["loyalty.campaign.completed", "loyalty.streak.broken"], enabled: true },
  campaigns: {
    name: "Welcome",
    description: "d",
    status: "draft",
    startsAt: "2030-01-01T00:00:00Z",
    endsAt: "2030-02-01T00:00:00+02:00",
    priority: 5,
    audience: { include: ["vip"], exclude: [] },
    visibility: "visible",
    order: "any",
    steps: [
      {
        id: "s1",
        name: "Read",
        trigger: "read",
        target: 2,
        effects: [
          { type: "metric.add", metric: "points", amount: { path: "event.data.amount", multiply: 0.5, round: "floor" } },
          { type: "metric.set", metric: "mood", value: 3 },
          { type: "product.grant", product: "badge" },
          { type: "streak.checkin", streak: "daily" },
          { type: "segment.add", segment: "vip" },
          { type: "attribute.set", key: "tier", value: "{{event.data.tier}}" },
          { type: "event.emit", eventType: "bonus", data: { n: 1 } },
          { type: "webhook.send", webhook: "hook", payload: { u: "{{user.id}}" } },
        ],
      },
      { id: "s2", name: "Spend", trigger: { eventType: "purchase", conditions: { path: "event.local.hour", op: "lt", value: 12 } }, measure: "event.data.amount", target: 100 },
    ],
    effects: [{ type: "push.send", title: "Done", body: "You earned {{completion.metric.points}}" }],
    repeat: { limit: null, every: "day", total: 5 },
  },
};

/** The field names a body of each kind may have (top level), plus `id`. */
const FIELDS: Record<DefinitionKind, string[]> = {
  metrics: ["id", "name", "description", "kind", "initial", "min", "max"],
  products: ["id", "type", "name", "description", "imageUrl", "price", "stock", "perUserLimit", "metadata"],
  segments: ["id", "name", "description", "type", "rule"],
  ladders: ["id", "name", "description", "metric", "basis", "demotion", "levels"],
  streaks: ["id", "name", "description", "period", "weekStart", "timezoneMode", "timezone", "freezes", "graceMinutes"],
  triggers: ["id", "name", "description", "eventType", "conditions"],
  webhooks: ["id", "url", "events", "enabled", "description"],
  campaigns: [
    "id", "name", "description", "imageUrl", "status", "startsAt", "endsAt", "acceptLateUntil", "priority",
    "audience", "visibility", "order", "steps", "effects", "repeat",
  ],
};

/** The references the valid bodies need. */
async function seed(d: Definitions): Promise<void> {
  await d.make("metrics", { id: "points", name: "Points", kind: "currency" });
  await d.make("metrics", { id: "mood", name: "Mood", kind: "gauge" });
  await d.make("products", { id: "badge", type: "badge", name: "Badge" });
  await d.make("segments", { id: "vip", name: "VIP", type: "static" });
  await d.make("ladders", { id: "tiers", name: "Tiers", metric: "points", levels: [{ id: "gold", name: "Gold", threshold: 0 }] });
  await d.make("streaks", { id: "daily", name: "Daily", period: "day" });
  await d.make("triggers", { id: "read", name: "Read", eventType: "article_read" });
  await d.make("webhooks", { id: "hook", url: "https://hooks.example.com/h", events: ["*"] });
}

// Hostile values, as raw JSON text -------------------------------------------------

const KIB = 1024;

/** Numbers JSON.stringify cannot write: beyond double range, beyond safe integers, odd forms. */
const rawNumbers = fc.constantFrom(
  "1e400", "-1e400", "1e-400", "9007199254740993", "-9007199254740993", "9007199254740992",
  "123456789012345678901234567890", "-0", "0.1", "1E2", "1.0", "4.9e-324", "1.7976931348623157e308",
);

/** Strings that are long enough to hurt (some over the 64 KiB body limit, some just under). */
const hugeStrings = fc
  .tuple(fc.constantFrom("a", "é", "😀", "\\u0000", "\\\\", "\\\""), fc.integer({ min: 1, max: 70 * KIB }))
  .map(([unit, n]) => `"${unit.repeat(unit.startsWith("\\") ? Math.floor(n / 2) : n)}"`);

/** Unicode edge cases, as JSON string literals (lone surrogates only exist escaped). */
const unicodeStrings = fc.constantFrom(
  '"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"\u202e"', '"\ufeff"', '"e\u0301"', '""', '" "', '"\u00a0"',
  '"ＡＢＣ"', '"İı"', '"\u{10ffff}"', '"a\\nb"', '"\\u2028"', '"points\\u0000"', '"point\u0073"', '"𝓹𝓸𝓲𝓷𝓽𝓼"',
);

/** Arrays or objects nested 1–100 deep (the body parser refuses more than 64). */
const deepNesting = fc.tuple(fc.integer({ min: 1, max: 100 }), fc.boolean()).map(([n, arrays]) =>
  arrays ? `${"[".repeat(n)}${"]".repeat(n)}` : `${'{"a":'.repeat(n)}1${"}".repeat(n)}`,
);

/** Objects whose keys would touch prototypes if a lookup were not own-property only. */
const prototypeObjects = fc.constantFrom(
  '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '{"prototype":1}',
  '[{"__proto__":null}]', '{"a":{"__proto__":[]}}',
);

/** Values that look plausible: ids, boundaries, enum-ish words, wrong-but-close types. */
const plausible = fc
  .oneof(
    fc.constantFrom(0, -1, 1, 2 ** 31, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0.5, true, false, null, "", "points", "vip", "read"),
    fc.constantFrom("counter", "gauge", "badge", "dynamic", "static", "day", "week", "draft", "active", "archived", "loyalty.user.created", "*"),
    fc.constantFrom("https://hooks.example.com/a", "http://127.0.0.1/", "https://169.254.169.254/", "2030-01-01T00:00:00Z", "2030-02-30T00:00:00Z"),
    fc.constantFrom(["vip"], [], [{}], { include: ["nope"] }, { path: "event.data.x", op: "eq", value: 1 }, { type: "metric.add", metric: "points", amount: 0 }),
    fc.string({ maxLength: 80 }),
  )
  .map((v) => JSON.stringify(v));

const hostileRaw: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)), weight: 4 },
  { arbitrary: plausible, weight: 4 },
  { arbitrary: rawNumbers, weight: 2 },
  { arbitrary: unicodeStrings, weight: 2 },
  { arbitrary: hugeStrings, weight: 1 },
  { arbitrary: deepNesting, weight: 1 },
  { arbitrary: prototypeObjects, weight: 1 },
);

/** Composes an object's JSON text from [key, raw value] pairs (keys like __proto__ survive). */
const objectText = (pairs: Array<[string, string]>) => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;

/** Every path to a node of a JSON value (not the root): ["steps", 0, "effects", 2, "metric"]. */
function nodePaths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (value === null || typeof value !== "object") return [];
  const entries: Array<[string | number, unknown]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...nodePaths(v, [...prefix, k])]);
}

const MARKER = "\u0001raw\u0001";

/** The valid body with the node at `path` replaced by raw JSON text. */
function replaced(body: Record<string, unknown>, path: Array<string | number>, raw: string): string {
  const copy = structuredClone(body) as any;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path[path.length - 1]!] = MARKER;
  return JSON.stringify(copy).replace(JSON.stringify(MARKER), () => raw);
}

interface Case {
  how: string;
  text: string;
}

function bodiesFor(kind: DefinitionKind): fc.Arbitrary<Case> {
  const keys = fc.oneof(
    { arbitrary: fc.constantFrom(...FIELDS[kind]), weight: 6 },
    { arbitrary: fc.constantFrom("__proto__", "constructor", "prototype", "version", "createdAt", "secret"), weight: 1 },
    { arbitrary: fc.string({ maxLength: 12 }), weight: 1 },
  );
  const randomJson = fc.jsonValue().map((v): Case => ({ how: "random JSON", text: JSON.stringify(v) ?? "null" }));
  const fromFields = fc
    .uniqueArray(fc.tuple(keys, hostileRaw), { selector: (pair) => pair[0], minLength: 1, maxLength: 8 })
    .map((pairs): Case => ({ how: "field names, hostile values", text: objectText(pairs) }));
  const paths = nodePaths(VALID[kind]);
  const mutation = fc
    .tuple(fc.constantFrom(...paths), hostileRaw)
    .map(([path, raw]): Case => ({ how: `valid body, ${path.join(".")} replaced`, text: replaced(VALID[kind], path, raw) }));
  // Plausible replacements get past the schema more often and reach the semantic rules (422/409).
  const nearMiss = fc
    .tuple(fc.constantFrom(...paths), plausible)
    .map(([path, raw]): Case => ({ how: `valid body, ${path.join(".")} replaced (plausible)`, text: replaced(VALID[kind], path, raw) }));
  return fc.oneof(randomJson, fromFields, mutation, nearMiss);
}

/** Fixed examples every run includes (fast-check `examples`): the cases SPEC §2 and §10 name. */
function examplesFor(kind: DefinitionKind): Case[] {
  const valid = VALID[kind];
  const firstNumberPath = nodePaths(valid).find((p) => typeof p.reduce((n: any, k) => n[k], valid) === "number");
  const at = firstNumberPath ?? [FIELDS[kind][1]!];
  return [
    { how: "1e400", text: replaced(valid, at, "1e400") },
    { how: "9007199254740993", text: replaced(valid, at, "9007199254740993") },
    { how: "__proto__ key", text: JSON.stringify(valid).replace(/^\{/, '{"__proto__":{"polluted":true},') },
    { how: "constructor key", text: JSON.stringify(valid).replace(/^\{/, '{"constructor":{"prototype":{"x":1}},') },
    { how: "70 KiB name", text: replaced(valid, [FIELDS[kind][1]!], `"${"x".repeat(70 * KIB)}"`) },
    { how: "nested 65 deep", text: replaced(valid, [FIELDS[kind][1]!], `${"[".repeat(65)}${"]".repeat(65)}`) },
    { how: "empty object", text: "{}" },
    { how: "array", text: "[]" },
    { how: "null", text: "null" },
    { how: "string", text: '"x"' },
  ];
}

// Assertions -----------------------------------------------------------------------

/** Checks one answer; returns whether it created something. */
function checkAnswer(kind: DefinitionKind, c: Case, a: Answer): boolean {
  const context = `${kind} (${c.how}) ${c.text.slice(0, 300)} → ${a.status} ${a.text.slice(0, 300)}`;
  expect(a.status, context).toBeLessThan(500);
  if (a.status === 201) {
    expect(a.body.id, context).toEqual(expect.any(String));
    return true;
  }
  expect(a.status, context).toBeGreaterThanOrEqual(400);
  expect(a.headers.get("content-type"), context).toBe("application/problem+json");
  expect(a.body, context).toMatchObject({ type: "about:blank", status: a.status, code: expect.any(String), detail: expect.any(String) });
  expect(ERROR_CODES[a.body.code as keyof typeof ERROR_CODES], context).toBe(a.status);
  if (a.status === 400 || a.status === 422) {
    expect(Array.isArray(a.body.errors) && a.body.errors.length > 0, context).toBe(true);
    for (const error of a.body.errors) {
      expect(error, context).toMatchObject({ path: expect.any(String), message: expect.any(String) });
    }
  }
  return false;
}

async function stored(d: Definitions, kind: DefinitionKind): Promise<{ count: number; version: number }> {
  const [list, version] = await Promise.all([d.list(kind, true), d.version()]);
  return { count: list.length, version };
}

describe("every create route answers hostile bodies with 201 or a 4xx problem, and a 4xx stores nothing", () => {
  for (const kind of DEFINITION_KINDS) {
    it(`POST /api/loyalty/admin/${kind}`, { timeout: 60_000 }, async () => {
      const d = await freshDefinitions(transport);
      await seed(d);
      // The valid body is valid (else every mutation would test nothing).
      await d.make(kind, VALID[kind]);
      const outcomes = new Map<number, number>();

      await fc.assert(
        fc.asyncProperty(bodiesFor(kind), async (c) => {
          // Read fresh each run: a failed run leaves state behind while fast-check shrinks.
          const before = await stored(d, kind);
          const a = await d.createRaw(kind, c.text);
          outcomes.set(a.status, (outcomes.get(a.status) ?? 0) + 1);
          const created = checkAnswer(kind, c, a);
          const after = await stored(d, kind);
          if (created) {
            expect(after, `${kind} (${c.how}) created`).toEqual({ count: before.count + 1, version: before.version + 1 });
            // What was stored is valid as it is: written back, it is a no-op (a value the
            // parser accepted but storage changed, e.g. 1e400 stored as null, would fail here).
            const { id, version, createdAt, updatedAt, archivedAt, secret, ...body } = a.body;
            const back = await d.put(kind, id, body);
            expect([back.status, back.body.version], `${kind} (${c.how}) stored ${a.text.slice(0, 300)} → ${back.text.slice(0, 300)}`).toEqual([200, version]);
          } else {
            expect(after, `${kind} (${c.how}) ${a.status} ${a.body.code} stored something`).toEqual(before);
          }
        }),
        { numRuns: RUNS + examplesFor(kind).length, examples: examplesFor(kind).map((c) => [c]) },
      );
      // The generators reach the body limit, the plain-data rules and the schema.
      expect(outcomes.get(400) ?? 0, JSON.stringify([...outcomes])).toBeGreaterThan(0);
    });
  }

  it("the fixed examples hit what they aim at: 413 over 64 KiB, 400 for __proto__, 1e400 and nesting > 64", async () => {
    const d = await freshDefinitions(transport);
    await seed(d);
    const byHow = (kind: DefinitionKind, how: string) => examplesFor(kind).find((c) => c.how === how)!.text;
    for (const kind of DEFINITION_KINDS) {
      expect((await d.createRaw(kind, byHow(kind, "70 KiB name"))).body.code, kind).toBe("payload_too_large");
      for (const how of ["__proto__ key", "constructor key", "1e400", "nested 65 deep"]) {
        const a = await d.createRaw(kind, byHow(kind, how));
        expect([a.status, a.body.code], `${kind} ${how}`).toEqual([400, "invalid_request"]);
      }
    }
    expect((await stored(d, "metrics")).count).toBe(2);
  });
});
