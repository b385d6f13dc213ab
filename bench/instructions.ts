import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
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
// of wrangler's proxy, whose process answers on the instance's port.

const { values } = parseArgs({ options: { count: { type: "string", default: "100" }, rounds: { type: "string", default: "3" } } });
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

/** Main-thread instructions per request of each process in the phase just dumped (dump files are numbered per process). */
function countsOfDump(processes: Map<number, "proxy" | "worker">): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const file of readdirSync(scratch)) {
    const match = /^cg\.(\d+)\.\d+-01$/.exec(file);
    const role = match && processes.get(Number(match[1]));
    if (!role) continue;
    const total = /^(?:summary|totals): (\d+)/m.exec(readFileSync(path.join(scratch, file), "utf8"));
    counts[role] = Number(((Number(total?.[1] ?? 0)) / N / 1e6).toFixed(2));
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
  const event = async (i: number, userId: string) => {
    const response = await fetch(`${instance.baseUrl}/api/loyalty/admin/events`, {
      method: "POST",
      headers: { ...headers, authorization: `Bearer ${key}` },
      body: JSON.stringify(eventBody(types, i, userId)),
    });
    if (response.status !== 201) throw new Error(`event: ${response.status} ${await response.text()}`);
  };
  const health = async () => void (await fetch(`${instance.baseUrl}/api/loyalty/health`, { headers: { "accept-encoding": "identity" } }).then((r) => r.arrayBuffer()));
  for (let i = 0; i < 50; i++) await Promise.all([health(), event(i, "hot")]); // compiled before counting

  const phase = async (name: string, request: (i: number) => Promise<void>) => {
    for (const pid of processes.keys()) callgrind("--zero", String(pid)), callgrind("--instr=on", String(pid));
    for (let i = 0; i < N; i++) await request(i);
    for (const pid of processes.keys()) callgrind("--dump", String(pid)), callgrind("--instr=off", String(pid));
    return { phase: name, ...countsOfDump(processes) };
  };
  const rows = [await phase("health", () => health())];
  for (let r = 1; r <= ROUNDS; r++) rows.push(await phase(`event, hot user (round ${r})`, (i) => event(r * 100_000 + i, "hot")));
  rows.push(await phase("event, new user", (i) => event(900_000 + i, `new-${i}`)));
  console.log(`\nMillions of instructions per request, main thread (${N} requests a phase, one at a time)`);
  console.table(rows);
} finally {
  await instance.stop();
  rmSync(scratch, { recursive: true, force: true });
}
