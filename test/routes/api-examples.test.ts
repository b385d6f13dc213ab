import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DEFINITION_KINDS } from "../../src/definitions/types";
import { EXAMPLES, type ExampleKey, type OperationExample } from "../../src/openapi/examples";
import { answer, callDirect, uniqueSlug, type Answer } from "../helpers/harness";

// The API reference's examples (issue #11, src/openapi/examples.ts) are test fixtures:
// (a) every operation of the served document that takes a JSON body has one, so a new
//     route without an example fails here;
// (b) every example is sent, in the order of EXAMPLES, to its route in a fresh space with
//     the root key (User API examples with a token minted by the token example) and must
//     get the route's documented success status (which implies (c): the body validates
//     against the documented request schema); reads with a response example must answer
//     that shape.
// Requests go to the Worker's fetch handler in-process (harness.callDirect).

const DOCUMENT = "/api/loyalty/openapi.json";
const METHODS = ["get", "post", "put", "patch", "delete"];

/** Operations documenting several successes: the one their example gets. */
const SUCCESS: Partial<Record<ExampleKey, number>> = {
  ...Object.fromEntries(DEFINITION_KINDS.map((kind) => [`PUT /api/loyalty/admin/${kind}/{id}`, 201])),
  "PUT /api/loyalty/admin/ladders/{id}": 200, // replaces the ladder the POST example created
  "POST /api/loyalty/admin/events": 201,
  "POST /api/loyalty/admin/events/batch": 200,
  "PUT /api/loyalty/admin/users/{userId}": 201,
  "PATCH /api/loyalty/admin/users/{userId}": 200,
  "PUT /api/loyalty/admin/users/{userId}/push-subscriptions": 201,
  "PUT /api/loyalty/me/push-subscriptions": 201,
};

interface Documented {
  key: string;
  path: string;
  operation: any;
}

let doc: any;
let documented: Map<string, Documented>;

beforeAll(async () => {
  const res = await callDirect(DOCUMENT, { key: null });
  expect(res.status).toBe(200);
  doc = await res.json();
  documented = new Map();
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const method of METHODS) {
      if (item[method]) documented.set(`${method.toUpperCase()} ${path}`, { key: `${method.toUpperCase()} ${path}`, path, operation: item[method] });
    }
  }
});

const examples = Object.entries(EXAMPLES) as Array<[ExampleKey, OperationExample]>;
const parametersOf = (operation: any, where: string): string[] =>
  (operation.parameters ?? []).filter((p: any) => p.in === where).map((p: any) => p.name as string);
const successesOf = (operation: any): number[] => Object.keys(operation.responses).map(Number).filter((s) => s >= 200 && s < 300);

describe("the document's examples", () => {
  it("every operation with a JSON request body has an example", () => {
    const missing = [...documented.values()]
      .filter(({ operation }) => operation.requestBody?.content?.["application/json"])
      .filter(({ operation }) => operation.requestBody.content["application/json"].example === undefined)
      .map(({ key }) => key);
    // A failure names an operation without an example: add one to src/openapi/examples.ts.
    expect(missing).toEqual([]);
  });

  it.each(examples)("%s is a documented operation, and the document carries its example", (key, example) => {
    const found = documented.get(key);
    expect(found, `${key} is not in the document`).toBeDefined();
    const { path, operation } = found!;
    const pathNames = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    expect(Object.keys(example.params ?? {}).sort(), "every path parameter, no other").toEqual(pathNames.sort());
    expect(parametersOf(operation, "query"), "documented query parameters").toEqual(expect.arrayContaining(Object.keys(example.query ?? {})));
    expect(example.body === undefined, "a body exactly where the operation takes one").toBe(operation.requestBody === undefined);
    if (example.body !== undefined) {
      for (const [media, content] of Object.entries<any>(operation.requestBody.content)) expect(content.example, media).toEqual(example.body);
    }
    for (const parameter of operation.parameters ?? []) {
      const value = parameter.in === "path" ? example.params?.[parameter.name] : parameter.in === "query" ? example.query?.[parameter.name] : undefined;
      expect(parameter.example, `${parameter.in} ${parameter.name}`).toEqual(value);
    }
    if (example.response) {
      expect(successesOf(operation)).toContain(example.response.status);
      expect(operation.responses[example.response.status].content["application/json"].example).toEqual(example.response.body);
    }
  });
});

// ---------------------------------------------------------------------------------------

/** The JSON types of a value, recursively (arrays by their first element): an answer's shape. */
function shapeOf(value: unknown): unknown {
  if (value === null) return "null";
  if (Array.isArray(value)) return value.length === 0 ? [] : [shapeOf(value[0])];
  if (typeof value === "object") {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, shapeOf(v)]));
  }
  return typeof value;
}

describe("every example, sent in order in a fresh space, gets its documented success", () => {
  /** What the examples create that the later ones use, in this run. */
  const run = { slug: uniqueSlug("fc"), token: "", redemption: "" };

  // Webhook deliveries the examples cause (crm-sync) go to the club's hosts: answered here.
  beforeAll(() => {
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.hostname.endsWith(".fc-united.example")) return new Response(null, { status: 204 });
      return real(input as RequestInfo, init);
    });
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });

  /** The example as this run sends it: its own space, and the ids the server generated. */
  function request(key: ExampleKey, example: OperationExample): { path: string; body: unknown } {
    const params = { ...example.params };
    if (params.slug) params.slug = run.slug;
    if (key === "POST /api/loyalty/admin/users/{userId}/redemptions/{id}/cancel") params.id = run.redemption;
    let body = example.body;
    if (key === "POST /api/loyalty/admin/spaces") body = { ...(body as object), slug: run.slug };
    const template = key.slice(key.indexOf(" ") + 1);
    const query = new URLSearchParams(example.query).toString();
    const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name]!)) + (query ? `?${query}` : "");
    return { path, body };
  }

  it.each(examples)("%s", async (key, example) => {
    const { operation } = documented.get(key)!;
    const successes = successesOf(operation);
    const expected = successes.length === 1 ? successes[0] : SUCCESS[key];
    expect(expected, `${key} documents ${successes.join(", ")}: say in SUCCESS which one its example gets`).toBeDefined();
    expect(successes).toContain(expected);

    const { path, body } = request(key, example);
    const user = path.startsWith("/api/loyalty/me");
    const a: Answer = await answer(
      await callDirect(path, {
        method: key.slice(0, key.indexOf(" ")),
        space: run.slug,
        body,
        ...(user ? { key: null, headers: { Authorization: `Bearer ${run.token}` } } : {}),
      }),
    );
    expect(a.status, `${key} → ${path}: ${a.text}`).toBe(expected);

    if (key === "POST /api/loyalty/admin/users/{userId}/token") run.token = a.body.token;
    if (key === "POST /api/loyalty/admin/users/{userId}/redemptions") run.redemption = a.body.id;
    // A batch answers 200 whatever its events did: each must have been applied.
    if (key === "POST /api/loyalty/admin/events/batch") {
      expect(a.body.results.map((r: { status: number }) => r.status), a.text).toEqual((body as { events: unknown[] }).events.map(() => 201));
    }
    if (example.response) expect(shapeOf(a.body), a.text).toEqual(shapeOf(example.response.body));
  });
});
