import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { benchHttp, type HttpResult } from "./http";
import { machine } from "./machine";

// `npm run bench:ablation`: how much of the ingestion ratio the user's object's own work
// costs. It runs the HTTP bench twice in one go: on this repository, then on a copy of it
// whose UserState.ingestBatch answers every event "applied" at once, without the lock, the
// engine or a single SQL statement. Everything else is the real service: routing, the
// key's gate, the rate limiter, validation, hashing, the RPC, and creating each user's
// object. Under `wrangler dev` the Worker and every Durable Object share one JavaScript
// thread, so what the object does is paid by the Worker's throughput; the copy's ratio is
// the ceiling that the rest of the path sets on ingestion, whatever the object costs.
// The copy is deleted afterwards; nothing in src/ knows about it. The runs are written to
// bench/ablation.json.

const { values } = parseArgs({ options: { duration: { type: "string", default: "15" } } });
const duration = Number(values.duration);
const root = path.resolve(import.meta.dirname, "..");

/** A copy of the service whose user object applies nothing. Throws if the anchor moved. */
function noopCopy(): string {
  const copy = mkdtempSync(path.join(tmpdir(), "loyalty-ablation-"));
  const skip = new Set(["node_modules", ".git", ".wrangler", ".dev.vars", "tmp"]);
  cpSync(root, copy, { recursive: true, filter: (source) => !skip.has(path.basename(source)) || source === root });
  symlinkSync(path.join(root, "node_modules"), path.join(copy, "node_modules"));
  const file = path.join(copy, "src/user/user-state.ts");
  const anchor = "async ingestBatch(requests: IngestRequest[]): Promise<IngestResult[]> {";
  const source = readFileSync(file, "utf8");
  if (!source.includes(anchor)) throw new Error(`bench:ablation: '${anchor}' is no longer in src/user/user-state.ts; update the ablation`);
  writeFileSync(file, source.replace(anchor, `${anchor}\n    return requests.map(() => ({ kind: "applied", outcomeJson: "{}" }) as IngestResult);`));
  return copy;
}

function ratios(runs: HttpResult[]): Map<string, number> {
  const health = runs.filter((r) => r.scenario.startsWith("health"));
  const baseline = health.reduce((sum, r) => sum + r.requestsPerSecond, 0) / health.length;
  return new Map(runs.map((r) => [r.scenario, Math.round((r.requestsPerSecond / baseline) * 100) / 100]));
}

const real = await benchHttp(duration);
const copy = noopCopy();
let noop: HttpResult[];
try {
  const { benchHttp: benchCopy } = (await import(path.join(copy, "bench/http.ts"))) as typeof import("./http");
  noop = await benchCopy(duration);
} finally {
  rmSync(copy, { recursive: true, force: true });
}
const [realRatios, noopRatios] = [ratios(real), ratios(noop)];
console.log(`\nRequests/s as a ratio to health's in the same run (${duration} s a scenario)`);
console.table(
  real.map((r, i) => ({
    scenario: r.scenario,
    "req/s": r.requestsPerSecond,
    "× health": realRatios.get(r.scenario),
    "req/s, object does nothing": noop[i]!.requestsPerSecond,
    "× health, object does nothing": noopRatios.get(r.scenario),
    errors: r.errors + noop[i]!.errors,
  })),
);
writeFileSync(
  path.join(root, "bench/ablation.json"),
  `${JSON.stringify({ when: new Date().toISOString(), machine: machine(), durationSeconds: duration, service: real, objectDoesNothing: noop, ratios: { service: Object.fromEntries(realRatios), objectDoesNothing: Object.fromEntries(noopRatios) } }, null, 2)}\n`,
);
console.log("written to bench/ablation.json");
