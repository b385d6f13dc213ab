import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startInstance } from "../test/e2e/instance";
import { HTTP_CAMPAIGNS, HTTP_STATE_PARENT } from "./http";
import { eventBody, eventTypesOf, generateProgramme } from "./programme";

// `npm run bench:instructions`: instructions per request, counted by valgrind's callgrind
// in the workerd processes of a real `npm start`, for A/B comparisons of a change. On this
// shared VM requests/s and CPU time move by 10-30 % from run to run, which hides any change
// smaller than that; an instruction count of the same requests moves by a few per cent
// (garbage collections and JIT tiers still vary). Not part of `npm run bench`: under
// valgrind the service runs ~50 times slower, and counts are not time (a `rep stosb`
// memset counts one instruction per byte, for instance).
//
// Each phase sends N requests one at a time with counting switched on only around them;
// reported: millions of instructions per request on the main thread of the Worker's
// workerd (the Worker, its Durable Objects and its queue consumers share that thread) and
// of wrangler's proxy, whose process answers on the instance's port. The user token is
// rate-limited at 100 a minute (SPEC §10): keep --count at most ~90 for the /me phase.
// `--keep DIR` keeps the Worker's dump of each phase (`callgrind_annotate DIR/<phase>.callgrind`).

const { values } = parseArgs({
  options: { count: { type: "string", default: "100" }, rounds: { type: "string", default: "3" }, keep: { type: "string" } },
});
const N = Number(values.count);
const ROUNDS = Number(values.rounds);

const workerd = path.resolve(import.meta.dirname, "../node_modules/@cloudflare/workerd-linux-64/bin/workerd");
const scratch = mkdtempSync(path.join(HTTP_STATE_PARENT, "loyalty-callgrind-"));
const wrapper = path.join(scratch, "workerd.sh");
writeFileSync(
  wrapper,
  `#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes --smc-check=all-non-file ` +
    `--callgrind-out-file=${scratch}/cg.%p --quiet ${workerd} "$@"\n`,
);
chmodSync(wrapper, 0o755);

const callgrind = (...args: string[]) => execFileSync("callgrind_control", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
/** The valgrind'ed workerd processes: pid → "proxy" (listens on the instance's port) or "worker". */
function workerdProcesses(port: number): Map<number, "proxy" | "worker"> {
  const listing = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  const found = new Map<number, "proxy" | "worker">();
  for (const line of listing.split("\n")) {
    if (!line.includes("valgrind") || !line.includes(scratch)) continue;
    found.set(Number(line.trim().split(/\s+/)[0]), line.includes(`:${port} `) ? "proxy" : "worker");
  }
  return found;
}

/**
 * Main-thread instructions per request of each process in the phase just dumped (dump
 * files are numbered per process). With --keep DIR the worker's dump of each phase is kept
 * there for callgrind_annotate.
 */
function countsOfDump(processes: Map<number, "proxy" | "worker">, phase: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const file of readdirSync(scratch)) {
    const match = /^cg\.(\d+)\.\d+-01$/.exec(file);
    const role = match && processes.get(Number(match[1]));
    if (!role) continue;
    const total = /^(?:summary|totals): (\d+)/m.exec(readFileSync(path.join(scratch, file), "utf8"));
    counts[role] = Number(((Number(total?.[1] ?? 0)) / N / 1e6).toFixed(2));
    if (values.keep && role === "worker") {
      mkdirSync(values.keep, { recursive: true });
      copyFileSync(path.join(scratch, file), path.join(values.keep, `${phase.replace(/[^a-z0-9]+/gi, "-")}.callgrind`));
    }
  }
  for (const file of readdirSync(scratch)) if (/^cg\.\d+\.\d+/.test(file)) rmSync(path.join(scratch, file));
  return counts;
}

const instance = await startInstance(600_000, { WRANGLER_LOG: "warn", MINIFLARE_WORKERD_PATH: wrapper }, HTTP_STATE_PARENT);
try {
  const processes = workerdProcesses(instance.port);
  const headers = { authorization: `Bearer ${instance.rootKey}`, "content-type": "application/json", "accept-encoding": "identity" };
  const admin = (p: string, init: RequestInit = {}) => fetch(`${instance.baseUrl}/api/loyalty/admin${p}`, { ...init, headers });
  const applied = await admin("/programme", { method: "PUT", body: JSON.stringify(generateProgramme(HTTP_CAMPAIGNS)) });
  if (!applied.ok) throw new Error(`programme: ${applied.status} ${await applied.text()}`);
  const types = eventTypesOf(HTTP_CAMPAIGNS);
  const created = await admin("/api-keys", { method: "POST", body: JSON.stringify({ name: "instructions", scopes: ["admin"] }) });
  const key = ((await created.json()) as { secret: string }).secret;
  // Without accept-encoding the answers are not gzipped, as for the bench's autocannon
  // (wrangler emulates Cloudflare's compression for clients that ask for it).
  const event = async (i: number, userId: string, query = "") => {
    const response = await fetch(`${instance.baseUrl}/api/loyalty/admin/events${query}`, {
      method: "POST",
      headers: { ...headers, authorization: `Bearer ${key}` },
      body: JSON.stringify(eventBody(types, i, userId)),
    });
    if (response.status !== 201) throw new Error(`event: ${response.status} ${await response.text()}`);
  };
  // A reader: one event, then a token for the User API (GET /me reads its own state).
  const seeded = await admin("/events", { method: "POST", body: JSON.stringify(eventBody(types, 0, "reader")) });
  if (seeded.status !== 201) throw new Error(`reader: ${seeded.status} ${await seeded.text()}`);
  const minted = await admin("/users/reader/token", { method: "POST", body: "{}" });
  if (minted.status !== 201) throw new Error(`token: ${minted.status} ${await minted.text()}`);
  const token = ((await minted.json()) as { token: string }).token;
  const me = async () => {
    const response = await fetch(`${instance.baseUrl}/api/loyalty/me`, { headers: { authorization: `Bearer ${token}`, "accept-encoding": "identity" } });
    if (response.status !== 200) throw new Error(`/me: ${response.status} ${await response.text()}`);
  };
  const health = async () => void (await fetch(`${instance.baseUrl}/api/loyalty/health`, { headers: { "accept-encoding": "identity" } }).then((r) => r.arrayBuffer()));
  for (let i = 0; i < 50; i++) await Promise.all([health(), event(i, "hot"), ...(i < 10 ? [me()] : [])]); // compiled before counting

  const phase = async (name: string, request: (i: number) => Promise<void>, settleMs = 0) => {
    for (const pid of processes.keys()) callgrind("--zero", String(pid)), callgrind("--instr=on", String(pid));
    for (let i = 0; i < N; i++) await request(i);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    for (const pid of processes.keys()) callgrind("--dump", String(pid)), callgrind("--instr=off", String(pid));
    return { phase: name, ...countsOfDump(processes, name) };
  };
  const rows = [await phase("health", () => health())];
  for (let r = 1; r <= ROUNDS; r++) rows.push(await phase(`event, hot user (round ${r})`, (i) => event(r * 100_000 + i, "hot")));
  // The same events evaluated but not committed (dryRun): the difference is the transaction.
  rows.push(await phase("event, hot user, dry run", (i) => event(800_000 + i, "hot", "?dryRun=true")));
  rows.push(await phase("GET /me", () => me()));
  // Last, and counted until the index queue's consumer has written the new users to the
  // directory in D1 (its batches wait up to 2 s): that work lands on the same thread, and
  // counted in whichever phase came next it made that phase's figure several times over.
  rows.push(await phase("event, new user", (i) => event(900_000 + i, `new-${i}`), 8_000));
  console.log(`\nMillions of instructions per request, main thread (${N} requests a phase, one at a time)`);
  console.table(rows);
} catch (error) {
  // Under valgrind a start or a phase occasionally fails; the service's own words say why.
  console.error(instance.output().split("\n").slice(-40).join("\n"));
  throw error;
} finally {
  await instance.stop();
  rmSync(scratch, { recursive: true, force: true });
}
