import { afterAll, beforeAll } from "vitest";
import { startInstance, type Instance } from "./instance";

/**
 * The test file's own `npm start`: started before its tests, stopped after them. The
 * fields read through to the running instance (apart from instance.ts, which scripts
 * import outside vitest).
 */
export function instanceForFile(env: Record<string, string> = {}): Instance {
  let started: Instance | undefined;
  beforeAll(async () => {
    started = await startInstance(90_000, env);
  }, 120_000);
  afterAll(async () => {
    await started?.stop();
  });
  const running = (): Instance => {
    if (!started) throw new Error("the instance is not started yet (use it inside a test)");
    return started;
  };
  return {
    get baseUrl() {
      return running().baseUrl;
    },
    get port() {
      return running().port;
    },
    get rootKey() {
      return running().rootKey;
    },
    output: () => running().output(),
    stop: () => running().stop(),
  };
}
