import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

// A real `npm start` on a free port with a fresh state directory and a known root key:
// what an operator runs, started the way the README says scripts can start it.

export interface Instance {
  baseUrl: string;
  port: number;
  rootKey: string;
  output: () => string;
  stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * `env` adds variables for `npm start` (e.g. DELIVERY_RETRY_SCHEDULE, which start.mjs
 * passes to the Worker), on top of the port, root key, state directory and log level.
 * The state directory is made under `stateParent` (default: the system's temporary directory).
 */
export async function startInstance(timeoutMs = 90_000, env: Record<string, string> = {}, stateParent = tmpdir()): Promise<Instance> {
  const root = path.resolve(import.meta.dirname, "../..");
  const port = await freePort();
  const rootKey = `root_${randomBytes(24).toString("base64url")}`;
  const stateDir = mkdtempSync(path.join(stateParent, "loyalty-e2e-"));
  let output = "";
  const child: ChildProcess = spawn(process.execPath, [path.join(root, "scripts/start.mjs")], {
    cwd: root,
    env: { ...process.env, PORT: String(port), ADMIN_ROOT_KEY: rootKey, LOYALTY_STATE_DIR: stateDir, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));

  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      try {
        process.kill(-child.pid, "SIGTERM"); // the whole group: npm start → wrangler → workerd
      } catch {
        /* already gone */
      }
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    rmSync(stateDir, { recursive: true, force: true });
  };

  const baseUrl = `http://localhost:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const response = await fetch(`${baseUrl}/api/loyalty/health`);
      if (response.ok) return { baseUrl, port, rootKey, output: () => output, stop };
    } catch {
      /* not listening yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await stop();
  throw new Error(`npm start did not become healthy:\n${output}`);
}
