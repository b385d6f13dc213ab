#!/usr/bin/env node
// `npm start`: the real service on this machine (wrangler dev: workerd with local D1,
// Durable Objects and Queues), with no account and no network.
//
//   PORT               port to listen on (default 8787)
//   ADMIN_ROOT_KEY     root key to use; otherwise one is generated into .dev.vars once
//   LOYALTY_STATE_DIR  where local state persists (default .wrangler/state)
//   LOG_LEVEL          the Worker's log level (debug | info | warn | error)
//   DELIVERY_RETRY_SCHEDULE  seconds between webhook/push attempts, e.g. "1,2" (tests)
//
// Extra arguments go to `wrangler dev` (e.g. `npm start -- --log-level warn`).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const wrangler = path.join(root, "node_modules", ".bin", "wrangler");
const port = process.env.PORT || "8787";
const stateDir = path.resolve(root, process.env.LOYALTY_STATE_DIR || ".wrangler/state");
const devVarsPath = path.join(root, ".dev.vars");

// No telemetry, no Request.cf look-ups: nothing leaves the machine.
// The banner is hidden because printing it runs an npm version check.
const childEnv = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
};

/** @param {string} text */
function parseDevVars(text) {
  /** @type {Record<string, string>} */
  const vars = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$/.exec(line);
    if (match) vars[match[1]] = match[2].replace(/^"(.*)"$/, "$1");
  }
  return vars;
}

/** The root key: from the environment, else from .dev.vars, else a new one written there. */
function rootKey() {
  if (process.env.ADMIN_ROOT_KEY) return { key: process.env.ADMIN_ROOT_KEY, source: "the ADMIN_ROOT_KEY environment variable" };
  const existing = existsSync(devVarsPath) ? readFileSync(devVarsPath, "utf8") : "";
  const vars = parseDevVars(existing);
  if (vars.ADMIN_ROOT_KEY) return { key: vars.ADMIN_ROOT_KEY, source: ".dev.vars" };
  const key = `root_${randomBytes(32).toString("base64url")}`;
  const separator = existing === "" || existing.endsWith("\n") ? "" : "\n";
  writeFileSync(devVarsPath, `${existing}${separator}ADMIN_ROOT_KEY=${key}\n`, { mode: 0o600 });
  return { key, source: ".dev.vars (generated now)" };
}

const { key, source } = rootKey();

const migrate = spawnSync(
  wrangler,
  ["d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir],
  { cwd: root, env: { ...childEnv, CI: "true" }, stdio: ["ignore", "inherit", "inherit"] },
);
if (migrate.status !== 0) {
  console.error("Applying the local D1 migrations failed.");
  process.exit(migrate.status ?? 1);
}

const args = [
  "dev",
  "--port", port,
  "--persist-to", stateDir,
  "--show-interactive-dev-session=false",
  // Local receivers (webhooks, JWKS) live on loopback over http.
  "--var", "ALLOW_PRIVATE_WEBHOOK_TARGETS:true",
  // The environment's key wins over .dev.vars, so scripts can start a known instance.
  "--var", `ADMIN_ROOT_KEY:${key}`,
  ...(process.env.LOG_LEVEL ? ["--var", `LOG_LEVEL:${process.env.LOG_LEVEL}`] : []),
  ...(process.env.DELIVERY_RETRY_SCHEDULE ? ["--var", `DELIVERY_RETRY_SCHEDULE:${process.env.DELIVERY_RETRY_SCHEDULE}`] : []),
  ...process.argv.slice(2),
];

console.log(`\nLoyalty engine on http://localhost:${port}/api/loyalty/health`);
console.log(`  state:          ${stateDir}`);
console.log(`  ADMIN_ROOT_KEY: ${key}  (from ${source})`);
console.log(`  API reference:  http://localhost:${port}/api/loyalty/docs\n`);

const child = spawn(wrangler, args, { cwd: root, env: childEnv, stdio: "inherit" });
for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM"])) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
