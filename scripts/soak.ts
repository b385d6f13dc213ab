// `npm run soak`: the long soak (issue #10) against a real local instance — the same
// seeded workload and the same invariant checker as test/hardening/soak.test.ts, over
// HTTP, for as long as asked; then a summary, and exit 1 on any violation, any answer the
// contract does not allow, any 5xx or any network error.
//
//   npm run soak -- [--duration 300] [--users 50] [--seed N] [--concurrency 8]
//                   [--base-url http://localhost:8787]
//
// Without --base-url (or BASE_URL) it starts its own `npm start` on a free port with a
// fresh state directory and a fast delivery retry schedule, as test/e2e/instance.ts does,
// from a copy of the working tree taken at the start (wrangler dev reloads the Worker when
// a source file changes, and answers 503 to requests in flight: an edit during a long soak
// would read as a failure), and stops it at the end. With --base-url it uses a running `npm start`; the root key
// comes from ADMIN_ROOT_KEY or .dev.vars. Webhooks go to a receiver this script runs on
// 127.0.0.1 (npm start allows loopback targets); it verifies every signature and answers
// 503 to the first attempt of about one webhook-id in ten, so retries are exercised.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";
import { checkSpace, checkSpaceSettled, type Fetcher } from "../test/helpers/invariants";
import { AdminClient, Runner, Workload, installProgramme, soakReport } from "../test/helpers/soak-workload";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "300" },
    users: { type: "string", default: "50" },
    seed: { type: "string" },
    concurrency: { type: "string", default: "8" },
    "base-url": { type: "string" },
    "settle-timeout": { type: "string", default: "90" },
  },
});

const durationS = Number(values.duration);
const users = Number(values.users);
const concurrency = Number(values.concurrency);
const seed = (values.seed === undefined ? Date.now() : Number(values.seed)) >>> 0;
const settleTimeoutMs = Number(values["settle-timeout"]) * 1000;
for (const [name, n] of Object.entries({ duration: durationS, users, concurrency, "settle-timeout": settleTimeoutMs })) {
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number`);
    process.exit(2);
  }
}

const root = path.resolve(import.meta.dirname, "..");

function rootKeyFromDevVars(): string | undefined {
  const devVars = path.join(root, ".dev.vars");
  const match = existsSync(devVars) ? /^ADMIN_ROOT_KEY=(.*)$/m.exec(readFileSync(devVars, "utf8")) : null;
  return match?.[1]?.trim();
}

interface Instance {
  baseUrl: string;
  rootKey: string;
  /** The instance's output (wrangler dev, workerd, the Worker's logs). */
  logFile: string;
  stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `npm start` (scripts/start.mjs) from a copy of the working tree, on a free port, with fresh state. */
async function startSnapshotInstance(timeoutMs: number): Promise<Instance> {
  const copy = mkdtempSync(path.join(tmpdir(), "loyalty-soak-src-"));
  for (const entry of ["src", "migrations", "scripts/start.mjs", "wrangler.toml", "package.json", "tsconfig.json"]) {
    cpSync(path.join(root, entry), path.join(copy, entry), { recursive: true });
  }
  symlinkSync(path.join(root, "node_modules"), path.join(copy, "node_modules"), "dir");
  const stateDir = mkdtempSync(path.join(tmpdir(), "loyalty-soak-state-"));
  const port = await freePort();
  const rootKey = `root_${randomBytes(24).toString("base64url")}`;
  const logFile = path.join(tmpdir(), `loyalty-soak-${Date.now().toString(36)}.log`);
  const child = spawn(process.execPath, [path.join(copy, "scripts/start.mjs")], {
    cwd: copy,
    env: { ...process.env, PORT: String(port), ADMIN_ROOT_KEY: rootKey, LOYALTY_STATE_DIR: stateDir, LOG_LEVEL: "warn", DELIVERY_RETRY_SCHEDULE: "1,2,4,8,16,30,60" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout!.on("data", (chunk) => appendFileSync(logFile, chunk));
  child.stderr!.on("data", (chunk) => appendFileSync(logFile, chunk));
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      try {
        process.kill(-child.pid, "SIGTERM"); // its own group: start.mjs → wrangler → workerd
      } catch {
        /* already gone */
      }
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(copy, { recursive: true, force: true });
  };
  const baseUrl = `http://localhost:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      if ((await fetch(`${baseUrl}/api/loyalty/health`)).ok) return { baseUrl, rootKey, logFile, stop };
    } catch {
      /* not listening yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await stop();
  throw new Error(`npm start did not become healthy; its output is in ${logFile}`);
}

interface Receiver {
  url: string;
  received: Set<string>;
  stats: { attempts: number; failedFirst: number; badSignatures: number };
  setSecret: (secret: string) => void;
  close: () => Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received = new Set<string>();
  const tried = new Set<string>();
  const stats = { attempts: 0, failedFirst: 0, badSignatures: 0 };
  let verifier: Webhook | null = null;
  const server: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      stats.attempts++;
      const id = String(request.headers["webhook-id"] ?? "");
      try {
        const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
        if (!verifier) throw new Error("no secret yet");
        verifier.verify(body, headers);
      } catch {
        stats.badSignatures++;
        response.writeHead(400).end();
        return;
      }
      const first = !tried.has(id);
      tried.add(id);
      if (first && id.endsWith("7")) {
        stats.failedFirst++;
        response.writeHead(503).end();
        return;
      }
      received.add(id);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    stats,
    setSecret: (secret) => (verifier = new Webhook(secret)),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function main(): Promise<number> {
  const started = Date.now();
  let instance: Instance | null = null;
  let baseUrl = values["base-url"] ?? process.env.BASE_URL;
  let rootKey = process.env.ADMIN_ROOT_KEY ?? rootKeyFromDevVars();
  const receiver = await startReceiver();
  // The instance runs in its own process group: stop it on Ctrl-C too.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      void (instance?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  try {
    if (!baseUrl) {
      console.log("soak: starting npm start from a copy of the working tree, on a free port (fresh state)…");
      instance = await startSnapshotInstance(180_000);
      baseUrl = instance.baseUrl;
      rootKey = instance.rootKey;
    }
    if (!rootKey) throw new Error("no root key: set ADMIN_ROOT_KEY (or run npm start once so .dev.vars has one)");
    const base = baseUrl.replace(/\/+$/, "");
    const fetcher: Fetcher = (p, init) => fetch(`${base}${p}`, init);
    const slug = `soak-${Date.now().toString(36)}`;
    const created = await fetcher("/api/loyalty/admin/spaces", {
      method: "POST",
      headers: { authorization: `Bearer ${rootKey}`, "content-type": "application/json" },
      body: JSON.stringify({ slug, name: "Soak" }),
    });
    if (created.status !== 201) throw new Error(`creating the space: ${created.status} ${await created.text()}`);
    const space = (await created.json()) as { id: string; slug: string };
    const credentials = { key: rootKey, space: space.slug, spaceId: space.id };
    const client = new AdminClient(fetcher, credentials);
    const { webhookSecret } = await installProgramme(client, receiver.url);
    if (webhookSecret) receiver.setSecret(webhookSecret);

    console.log(`soak: ${base} space ${space.slug}, seed ${seed}, ${users} users, ${durationS} s, concurrency ${concurrency}`);
    const workload = new Workload(seed, users);
    const runner = new Runner(client);
    const progress = setInterval(() => {
      console.log(`soak: ${Math.round((Date.now() - started) / 1000)} s, ${runner.stats.operations} operations, ${client.stats.serverErrors.length} 5xx, ${runner.stats.findings.length} findings`);
    }, 10_000);
    const run = await runner.run(workload, { maxSteps: Number.MAX_SAFE_INTEGER, deadline: Date.now() + durationS * 1000, concurrency }).finally(() => clearInterval(progress));

    console.log(`soak: ${run.operations} operations in ${(run.wallMs / 1000).toFixed(1)} s; checking ${users} users (waiting up to ${settleTimeoutMs / 1000} s for deliveries)…`);
    const checkStarted = Date.now();
    const check = await checkSpaceSettled(fetcher, credentials, workload.users, { ...runner.expectations(), received: receiver.received }, { timeoutMs: settleTimeoutMs, intervalMs: 2000 });
    const checkMs = Date.now() - checkStarted;
    // Sanity: the checker must be able to fail against this very space.
    const victim = `/api/loyalty/admin/users/${workload.users.find((u) => runner.expectations().appliedEvents?.has(u))}`;
    const lying: Fetcher = async (p, init) => {
      const response = await fetcher(p, init);
      if (response.status !== 200 || p !== victim) return response;
      const body = (await response.json()) as { metrics: Array<{ metric: string; balance: number }> };
      body.metrics.find((m) => m.metric === "points")!.balance += 1;
      return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
    };
    const lied = await checkSpace(lying, credentials, workload.users, runner.expectations());
    const checkerCanFail = lied.violations.some((v) => v.invariant === "balance_ne_ledger");

    const report = {
      baseUrl: base,
      ...soakReport({ seed, users, run, transport: client.stats, check, settleMs: check.settleMs, checkMs }),
      webhookAttempts: receiver.stats.attempts,
      webhookFirstAttemptsFailed: receiver.stats.failedFirst,
      webhooksReceived: receiver.received.size,
      webhookBadSignatures: receiver.stats.badSignatures,
      checkerCanFail,
      totalMs: Date.now() - started,
      operationsPerSecond: Math.round((run.operations / run.wallMs) * 1000 * 10) / 10,
    };
    console.log(`SOAK-REPORT ${JSON.stringify(report)}`);
    const problems = [
      ...check.violations.slice(0, 20).map((v) => `violation ${v.invariant}${v.userId ? ` [${v.userId}]` : ""}: ${v.detail}`),
      ...run.findings.slice(0, 20).map((f) => `finding ${f.kind}${f.userId ? ` [${f.userId}]` : ""}: ${f.detail}`),
      ...client.stats.serverErrors.slice(0, 10).map((e) => `5xx ${e.method} ${e.path}: ${e.status} ${e.text}`),
      ...client.stats.networkErrors.slice(0, 10).map((e) => `network ${e.method} ${e.path}: ${e.error}`),
      ...(receiver.stats.badSignatures > 0 ? [`${receiver.stats.badSignatures} webhook deliveries with a bad signature`] : []),
      ...(checkerCanFail ? [] : ["the checker did not notice a tampered balance"]),
    ];
    const serverErrors = client.stats.serverErrors.length + (check.reads?.serverErrors ?? 0);
    console.log(
      `\nSoak summary: ${run.operations} operations (${Object.entries(run.byKind).map(([k, n]) => `${k} ${n}`).join(", ")}), ` +
        `${users} users, ${check.counts.ledgerEntries} ledger entries and ${check.counts.activityEntries} activity entries checked, ` +
        `${check.counts.deliveriesExpected} webhooks expected / ${check.counts.deliveriesLogged} logged / ${receiver.received.size} received, ` +
        `${check.violations.length} violations, ${run.findings.length} unexpected answers, ${serverErrors} 5xx, ${client.stats.rateLimited} 429 (retried), ` +
        `${client.stats.proxyRetries} dev-proxy restarts (retried; not answers of the Worker).`,
    );
    for (const p of problems) console.log(`  ${p}`);
    const failed = check.violations.length > 0 || run.findings.length > 0 || serverErrors > 0 || client.stats.networkErrors.length > 0 || receiver.stats.badSignatures > 0 || !checkerCanFail;
    if (instance && failed) console.log(`The instance's output: ${instance.logFile}`);
    else if (instance) rmSync(instance.logFile, { force: true });
    console.log(failed ? "SOAK FAILED" : "SOAK PASSED");
    return failed ? 1 : 0;
  } finally {
    await receiver.close();
    if (instance) await instance.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
