import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { eventBody, eventTypesOf, generateProgramme } from "./programme";

// A CPU profile of workerd under `npm start` (`npm run profile`): where an event's time
// goes, for the HTTP bench's misses. Starts the service with an inspector port, applies
// the 500-campaign benchmark programme, sends events one at a time (`--mode new`: each to
// a user never seen, as the bench's ingestion across 1,000 users mostly does; `--mode
// hot`: all to one user; `--mode me`: GET /api/loyalty/me with the tokens of 50 users in
// turn, as the bench's /me scenario) and prints the functions with the most self time. The whole
// profile is written to bench/profile.cpuprofile (open it in Chrome DevTools).
// The inspector's WebSocket is read with `ws` (Node 20's own client is refused by
// wrangler's inspector proxy).

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "new" },
    count: { type: "string", default: "300" },
    top: { type: "string", default: "30" },
  },
});
const mode = values.mode === "hot" || values.mode === "me" ? values.mode : "new";
const count = Number(values.count);
const root = path.resolve(import.meta.dirname, "..");
const port = 8790 + Math.floor(Math.random() * 100);
const inspectorPort = port + 1000;
const rootKey = `root_profile_${Date.now()}`;
const stateDir = mkdtempSync(path.join(tmpdir(), "loyalty-profile-"));
const child = spawn(process.execPath, [path.join(root, "scripts/start.mjs"), "--inspector-port", String(inspectorPort)], {
  cwd: root,
  env: { ...process.env, PORT: String(port), ADMIN_ROOT_KEY: rootKey, LOYALTY_STATE_DIR: stateDir, LOG_LEVEL: "warn", WRANGLER_LOG: "warn" },
  stdio: ["ignore", "ignore", "inherit"],
  detached: true,
});

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

try {
  const base = `http://localhost:${port}`;
  for (let i = 0; i < 400; i++) {
    if (await fetch(`${base}/api/loyalty/health`).then((r) => r.ok, () => false)) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const admin = async (route: string, body: unknown, key = rootKey) => {
    const response = await fetch(`${base}/api/loyalty/admin${route}`, {
      method: route === "/programme" ? "PUT" : "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${route}: ${response.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  await admin("/programme", generateProgramme(500));
  const types = eventTypesOf(500);
  // An API key, as the bench's ingestion uses (the root key skips the key look-up).
  const key = String((await admin("/api-keys", { name: "profile", scopes: mode === "me" ? ["admin"] : ["events:write"] })).secret);
  let n = 0;
  const tokens: string[] = [];
  if (mode === "me") {
    for (let i = 0; i < 50; i++) {
      await admin("/events", eventBody(types, i, `reader-${i}`), key);
      tokens.push(String((await admin(`/users/reader-${i}/token`, {})).token));
    }
  }
  const load = async (requests: number) => {
    for (let i = 0; i < requests; i++) {
      if (mode !== "me") {
        await admin("/events", eventBody(types, ++n, mode === "new" ? `profile-${n}` : "hot-user"), key);
        continue;
      }
      const response = await fetch(`${base}/api/loyalty/me`, { headers: { authorization: `Bearer ${tokens[++n % tokens.length]}` } });
      if (!response.ok) throw new Error(`/me: ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    }
  };
  await load(50); // warm: the programme cached, the code compiled

  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise((resolve) => socket.once("open", resolve));
  let nextId = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  socket.on("message", (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  });
  const send = <T>(method: string, params: object = {}) =>
    new Promise<T>((resolve) => {
      waiting.set(++nextId, resolve as (result: unknown) => void);
      socket.send(JSON.stringify({ id: nextId, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 100 });
  await send("Profiler.start");
  const started = performance.now();
  await load(count);
  const wallMs = performance.now() - started;
  const { profile } = await send<{ profile: Profile }>("Profiler.stop");
  socket.close();
  writeFileSync(path.join(root, "bench/profile.cpuprofile"), JSON.stringify(profile));

  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<string, number>();
  profile.samples.forEach((sample, i) => {
    const { functionName, url, lineNumber } = byId.get(sample)!.callFrame;
    const where = `${functionName || "(anonymous)"} ${url.split("/").slice(-1)[0] ?? ""}:${lineNumber + 1}`;
    selfMs.set(where, (selfMs.get(where) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  console.log(`${count} ${mode === "me" ? "reads of /me" : "events"} (${{ new: "each to a new user", hot: "all to one user", me: "50 users in turn" }[mode]}) in ${wallMs.toFixed(0)} ms: ${(wallMs / count).toFixed(1)} ms each, one at a time`);
  console.log("self ms  function (line in the bundle wrangler built, .wrangler/tmp)");
  for (const [where, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`${ms.toFixed(0).padStart(7)}  ${where}`);
  }
} finally {
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {
    /* already gone */
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  rmSync(stateDir, { recursive: true, force: true });
}
