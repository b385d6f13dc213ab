import { runInDurableObject } from "cloudflare:test";
import { afterAll, expect, it, vi } from "vitest";
import { callDirect, createSpace } from "../test/helpers/harness";
import { eventBody, eventTypesOf, generateProgramme } from "./programme";

// Storage per user-year (issue 9, part 3), in the real runtime: one user of the benchmark
// programme (50 campaigns) sends 5 events a day — a visit and four actions — for DAYS
// simulated days with the default retention (activity and full outcomes 30 days, ledger
// and seen ids forever); the Durable Object clock moves a day at a time. The size of the
// object's SQLite database is printed as a BENCH_STORAGE line for bench/run.ts.

// Set by vitest.storage.config.ts from BENCH_STORAGE_DAYS (workers see no process.env).
declare const __BENCH_STORAGE_DAYS__: string;
declare const __BENCH_STORAGE_PER_TYPE__: string;
const DAYS = Number(__BENCH_STORAGE_DAYS__);
/** Campaigns crediting each event type (see bench/README.md: 1 = a typical fan's day, 10 = the engine bench's). */
const PER_TYPE = Number(__BENCH_STORAGE_PER_TYPE__);
const EVENTS_PER_DAY = 5;
vi.setConfig({ testTimeout: 600_000 });
afterAll(() => vi.useRealTimers());

it(`a user's storage after ${DAYS} days of daily activity`, async () => {
  const space = await createSpace();
  const admin = (path: string, method: string, body: unknown) => callDirect(`/api/loyalty/admin${path}`, { method, space: space.slug, body });
  const applied = await admin("/programme", "PUT", generateProgramme(50, PER_TYPE));
  expect(applied.status, await applied.clone().text()).toBe(200);
  const types = eventTypesOf(50, PER_TYPE);
  const userId = "year-user";
  const start = Date.parse("2027-01-01T08:00:00.000Z");
  vi.useFakeTimers({ toFake: ["Date"] });
  let errors = 0;
  for (let day = 0; day < DAYS; day++) {
    for (let k = 0; k < EVENTS_PER_DAY; k++) {
      const at = start + day * 86_400_000 + k * 600_000;
      vi.setSystemTime(at);
      const body = k === 0 ? { id: `visit-${day}`, userId, type: "visit" } : eventBody(types, day * EVENTS_PER_DAY + k, userId);
      const res = await admin("/events", "POST", body);
      if (res.status !== 201) errors += 1;
      await res.arrayBuffer();
    }
  }
  const stub = (await import("cloudflare:test")).env.USERS.getByName(JSON.stringify([space.id, userId]));
  const { bytes, tables } = await runInDurableObject(stub, (_instance, state) => {
    const sql = state.storage.sql;
    const tables: Record<string, { rows: number; bytes: number }> = {};
    const columns: Record<string, string> = {
      user_state: "length(json)",
      ledger: "length(metric) + length(reason) + length(source) + length(occurred_at) + length(at) + 24",
      seen_events: "length(id_hash) + length(body_hash)",
      activity: "length(event_id) + length(type) + length(occurred_at) + length(outcome) + 16",
      applied_reservations: "length(id) + 8",
      meta: "length(key) + length(value)",
    };
    for (const [table, size] of Object.entries(columns)) {
      const row = sql.exec<{ rows: number; bytes: number | null }>(`SELECT COUNT(*) AS rows, SUM(${size}) AS bytes FROM ${table}`).one();
      tables[table] = { rows: row.rows, bytes: row.bytes ?? 0 };
    }
    return { bytes: sql.databaseSize, tables };
  });
  console.log(`BENCH_STORAGE ${JSON.stringify({ days: DAYS, eventsPerDay: EVENTS_PER_DAY, campaignsPerEventType: PER_TYPE, bytes, tables, errors })}`);
  expect(errors).toBe(0);
});
