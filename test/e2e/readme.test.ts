import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { instanceForFile } from "./instance-for-file";

// The README quickstart, executed: every ```sh quickstart block runs in order in one bash
// session against a real `npm start`, and the JSON block shown after it must be contained
// in what the block printed (objects: listed keys equal; arrays: element by element).

const readme = readFileSync(path.resolve(import.meta.dirname, "../../README.md"), "utf8");

interface Step {
  script: string;
  expected: unknown;
}

function quickstartSteps(markdown: string): Step[] {
  const blocks = [...markdown.matchAll(/```([^\n]*)\n([\s\S]*?)```/g)].map((m) => ({ info: m[1]!.trim(), body: m[2]! }));
  const steps: Step[] = [];
  blocks.forEach((block, i) => {
    if (block.info !== "sh quickstart") return;
    const next = blocks[i + 1];
    steps.push({ script: block.body, expected: next?.info === "json" ? JSON.parse(next.body) : undefined });
  });
  return steps;
}

function expectContained(actual: unknown, expected: unknown, where: string): void {
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), `${where} is an array`).toBe(true);
    expected.forEach((item, i) => expectContained((actual as unknown[])[i], item, `${where}[${i}]`));
  } else if (expected !== null && typeof expected === "object") {
    expect(actual !== null && typeof actual === "object", `${where} is an object`).toBe(true);
    for (const [key, value] of Object.entries(expected)) {
      expectContained((actual as Record<string, unknown>)[key], value, `${where}.${key}`);
    }
  } else {
    expect(actual, where).toEqual(expected);
  }
}

describe("README quickstart", () => {
  const instance = instanceForFile();

  it("has quickstart blocks with expected outputs", () => {
    const steps = quickstartSteps(readme);
    expect(steps.length).toBeGreaterThanOrEqual(4);
    expect(steps.every((s) => s.expected !== undefined)).toBe(true);
  });

  it("runs every block in order and prints what the README shows", () => {
    const steps = quickstartSteps(readme);
    const marker = (i: number) => `@@step-${i}@@`;
    const script = [
      "set -euo pipefail",
      ...steps.flatMap((step, i) => [`echo; echo '${marker(i)}'`, step.script.replaceAll("localhost:8787", `localhost:${instance.port}`)]),
      "echo",
    ].join("\n");
    let output: string;
    try {
      output = execFileSync("bash", ["-c", script], {
        env: { ...process.env, ADMIN_ROOT_KEY: instance.rootKey },
        encoding: "utf8",
        timeout: 60_000,
      });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      throw new Error(`quickstart failed:\n${e.stdout}\n${e.stderr}\n--- server ---\n${instance.output()}`);
    }
    steps.forEach((step, i) => {
      const start = output.indexOf(marker(i)) + marker(i).length;
      const end = i + 1 < steps.length ? output.indexOf(marker(i + 1)) : output.length;
      const printed = output.slice(start, end).trim();
      expectContained(JSON.parse(printed), step.expected, `step ${i + 1}`);
    });
  }, 90_000);
});
