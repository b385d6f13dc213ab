import { cpus, totalmem } from "node:os";

/** The machine a result was measured on, as results files record it. */
export function machine() {
  return { cpus: cpus().length, cpu: cpus()[0]?.model ?? "?", memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}
