import { env, runInDurableObject } from "cloudflare:test";
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
  const stub = env.USERS.getByName(JSON.stringify([space.id, userId]));
  // Rows written, counted by SQLite itself (total_changes(): rows inserted, updated or
  // deleted on the connection), from after the first event (which creates the object).
  const objectChanges = () => runInDurableObject(stub, (_instance, state) => state.storage.sql.exec<{ n: number }>(`SELECT total_changes() AS n`).one().n);
  // D1's total_changes() also counts the local simulator's own bookkeeping (it grows with
  // every SELECT), so D1 is measured by its tables' row counts: inserts and deletes, not updates.
  const d1Changes = async () => {
    const tables = (await env.DB.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`).all<{ name: string }>()).results;
    const counts = await env.DB.batch(tables.map(({ name }) => env.DB.prepare(`SELECT COUNT(*) AS n FROM "${name}"`)));
    return counts.reduce((sum, r) => sum + Number((r.results[0] as { n: number }).n), 0);
  };
  let counted: { events: number; object: number; d1: number } | undefined;
  for (let day = 0; day < DAYS; day++) {
    for (let k = 0; k < EVENTS_PER_DAY; k++) {
      const at = start + day * 86_400_000 + k * 600_000;
      vi.setSystemTime(at);
      const body = k === 0 ? { id: `visit-${day}`, userId, type: "visit" } : eventBody(types, day * EVENTS_PER_DAY + k, userId);
      const res = await admin("/events", "POST", body);
      if (res.status !== 201) errors += 1;
      await res.arrayBuffer();
      if (counted) counted.events += 1;
      else counted = { events: 0, object: await objectChanges(), d1: await d1Changes() };
    }
  }
  // D1 rows would include the directory index the index queue's consumer writes (not on
  // the event path: SPEC §5.8) if it ran in this window.
  const rowsWritten = counted && {
    events: counted.events,
    objectRowsPerEvent: Number((((await objectChanges()) - counted.object) / counted.events).toFixed(2)),
    d1RowsAddedPerEvent: Number((((await d1Changes()) - counted.d1) / counted.events).toFixed(3)),
  };
  const { bytes, tables } = await runInDurableObject(stub, (_instance, state) => {
    const sql = state.storage.sql;
    const tables: Record<string, { rows: number; bytes: number }> = {};
    const columns: Record<string, string> = {
      user_state: "length(json)",
      campaign_states: "length(id) + length(json)",
      ledger:
        "length(metric) + length(reason) + COALESCE(length(event_id), 0) + COALESCE(length(derived_event_id), 0) + COALESCE(length(campaign), 0) + COALESCE(length(step), 0) + COALESCE(length(redemption), 0) + COALESCE(length(adjustment_by), 0) + COALESCE(length(reverses), 0) + 40",
      seen_events: "length(id_hash) + length(body_hash)",
      ledger_blocks: "length(entries) + 16",
      ledger_open: "length(entries) + 8",
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
  console.log(`BENCH_STORAGE ${JSON.stringify({ days: DAYS, eventsPerDay: EVENTS_PER_DAY, campaignsPerEventType: PER_TYPE, bytes, tables, rowsWritten, errors })}`);
  expect(errors).toBe(0);
});
