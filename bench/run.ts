import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { benchEngine, type EngineResult } from "./engine";
import { benchHttp, HTTP_CAMPAIGNS, HTTP_STATE_PARENT, type HttpResult } from "./http";
import { machine } from "./machine";

// `npm run bench` (issue 9): the engine in Node, the HTTP API on a real `npm start`, and a
// user's storage after a simulated year — one table, and bench/results.json with the
// machine it ran on. `--quick` (run by `npm test`) is a smoke run of the same harness: it
// checks that every part runs without errors and asserts no timing at all.

const quick = process.argv.includes("--quick");
const root = path.resolve(import.meta.dirname, "..");

interface StorageResult {
  campaignsPerEventType: number;
  days: number;
  eventsPerDay: number;
  bytes: number;
  tables: Record<string, { rows: number; bytes: number }>;
  /** Rows written per event after the first (SQLite's total_changes() in the object; D1 row counts). */
  rowsWritten?: { events: number; objectRowsPerEvent: number; d1RowsAddedPerEvent: number };
  errors: number;
}

function benchStorage(days: number, perType: number): StorageResult {
  const run = spawnSync(path.join(root, "node_modules/.bin/vitest"), ["run", "--config", "vitest.storage.config.ts"], {
    cwd: root,
    env: { ...process.env, BENCH_STORAGE_DAYS: String(days), BENCH_STORAGE_PER_TYPE: String(perType) },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = `${run.stdout}\n${run.stderr}`.split("\n").find((l) => l.includes("BENCH_STORAGE "));
  if (run.status !== 0 || !line) throw new Error(`the storage run failed:\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(line.slice(line.indexOf("BENCH_STORAGE ") + "BENCH_STORAGE ".length)) as StorageResult;
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : Math.round((a / b) * 100) / 100);

const started = Date.now();
const engine: EngineResult[] = await benchEngine(quick ? [50, 500] : [50, 500, 5000], quick ? 200 : 3000);
const http: HttpResult[] = await benchHttp(quick ? 2 : 15);
const storage = quick ? [benchStorage(10, 1)] : [benchStorage(365, 1), benchStorage(365, 10)];

// Health is measured first and last; the baseline is their mean (see http.ts).
const healthRuns = http.filter((r) => r.scenario.startsWith("health"));
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const baseline = { requestsPerSecond: mean(healthRuns.map((r) => r.requestsPerSecond)), p99Ms: mean(healthRuns.map((r) => r.p99Ms)) };
const scenario = (name: string) => http.find((r) => r.scenario.startsWith(name))!;
const results = {
  // The figures SPEC §12 names, from the runs below.
  summary: {
    engineScalingRatio: ratio(engine.at(-1)!.eventsPerSecond, engine[0]!.eventsPerSecond),
    ingestVsBaseline: ratio(scenario("ingest, 1,000").requestsPerSecond, baseline.requestsPerSecond),
    hotUserVsBaseline: ratio(scenario("ingest, one hot").requestsPerSecond, baseline.requestsPerSecond),
    meVsBaseline: ratio(scenario("GET /me").requestsPerSecond, baseline.requestsPerSecond),
    ingestP99VsBaselineP99: ratio(scenario("ingest, 1,000").p99Ms, baseline.p99Ms),
    errors: http.reduce((n, r) => n + r.errors, 0) + storage.reduce((n, s) => n + s.errors, 0),
    bytesPerUserYear: storage[0]!.days >= 365 ? storage[0]!.bytes : null,
    // Measured in the storage run (bench/storage.test.ts): SQLite's own count of rows
    // written in the user's object, and D1 rows added per event (no stocked products there).
    objectRowsWrittenPerEvent: storage[0]!.rowsWritten?.objectRowsPerEvent ?? null,
    d1RowsAddedPerEventWithoutStock: storage[0]!.rowsWritten?.d1RowsAddedPerEvent ?? null,
  },
  when: new Date().toISOString(),
  quick,
  machine: machine(),
  engine: {
    runs: engine,
    ratioLargestToSmallest: ratio(engine.at(-1)!.eventsPerSecond, engine[0]!.eventsPerSecond),
  },
  http: {
    programmeCampaigns: HTTP_CAMPAIGNS,
    localStateUnder: HTTP_STATE_PARENT,
    baseline: { requestsPerSecond: Math.round(baseline.requestsPerSecond), p99Ms: baseline.p99Ms, from: healthRuns.map((r) => r.scenario) },
    runs: http.map((r) => ({ ...r, rpsRatioToBaseline: ratio(r.requestsPerSecond, baseline.requestsPerSecond), p99RatioToBaseline: ratio(r.p99Ms, baseline.p99Ms) })),
  },
  // Only a whole simulated year says what a year costs (fixed overhead dominates short runs).
  storage: storage.map((s) => ({ ...s, kibPerUserYear: s.days >= 365 ? Math.round(s.bytes / 1024) : null })),
  seconds: Math.round((Date.now() - started) / 1000),
};

console.log("\nEngine (pure, Node): events/s by active campaigns");
console.table(engine.map((r) => ({ campaigns: r.campaigns, "events/s": r.eventsPerSecond, "mean ms": r.meanMs, "p99 ms": r.p99Ms })));
console.log(`ratio ${engine.at(-1)!.campaigns} vs ${engine[0]!.campaigns}: ${results.engine.ratioLargestToSmallest}`);
console.log(`\nHTTP (npm start, ${HTTP_CAMPAIGNS} campaigns, loopback, autocannon)`);
console.table(results.http.runs.map((r) => ({ scenario: r.scenario, "req/s": r.requestsPerSecond, "× baseline": r.rpsRatioToBaseline, "p50 ms": r.p50Ms, "p99 ms": r.p99Ms, "p99 × baseline": r.p99RatioToBaseline, errors: r.errors })));
console.log("\nStorage of one user (Durable Object SQLite)");
console.table(results.storage.map((s) => ({ "campaigns per event type": s.campaignsPerEventType, days: s.days, "events/day": s.eventsPerDay, KiB: Math.round(s.bytes / 1024), "KiB per user-year": s.kibPerUserYear, "object rows written/event": s.rowsWritten?.objectRowsPerEvent, "D1 rows added/event": s.rowsWritten?.d1RowsAddedPerEvent })));

const errors = http.reduce((n, r) => n + r.errors, 0) + storage.reduce((n, s) => n + s.errors, 0);
if (!quick) {
  writeFileSync(path.join(root, "bench/results.json"), `${JSON.stringify(results, null, 2)}\n`);
  console.log("\nwritten to bench/results.json");
}
if (errors > 0) {
  console.error(`\n${errors} requests failed`);
  process.exit(1);
}
