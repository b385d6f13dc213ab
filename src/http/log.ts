import type { Env } from "../env";

// Structured JSON logs (SPEC §11): one object per line, with the request id and the
// space/user/event where known. Secrets and tokens are never passed in.

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

export function log(env: Pick<Env, "LOG_LEVEL">, level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
  const threshold = LEVELS[(env.LOG_LEVEL as LogLevel) ?? "info"] ?? LEVELS.info;
  if (LEVELS[level] < threshold) return;
  const line = JSON.stringify({ level, message, at: new Date().toISOString(), ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
