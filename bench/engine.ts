import { Bench } from "tinybench";
import { kindSpecs } from "../src/definitions/registry";
import type { DefinitionKind } from "../src/definitions/types";
import { compileProgramme, type DefinitionInput } from "../src/engine/compile";
import { applyEvent } from "../src/engine/evaluate";
import { emptyUserState, type Programme, type UserState } from "../src/engine/types";
import { eventBody, eventTypesOf, generateProgramme } from "./programme";

// Engine throughput (issue 9, part 1): the pure engine in Node, one event at a time against
// programmes of 50, 500 and 5,000 active campaigns, from a user who already has history.

const config = { allowPrivateTargets: false, spaceHostSuffix: undefined } as never;

export function compiled(campaigns: number): Programme {
  const specs = kindSpecs(config);
  const inputs: DefinitionInput[] = [];
  for (const [kind, list] of Object.entries(generateProgramme(campaigns))) {
    for (const { id, ...body } of list) {
      const parsed = specs[kind as DefinitionKind].schema.parse(body);
      inputs.push({ kind: kind as DefinitionKind, id: String(id), body: parsed as Record<string, unknown> });
    }
  }
  return compileProgramme(inputs, { version: 1, spaceTimezone: "Europe/London" });
}

/** A user after a few months: balances, levels, memberships, campaign progress, a streak. */
export function seasonedUser(programme: Programme, types: string[]): UserState {
  let state: UserState = { ...emptyUserState("bench-user"), attributes: { country: "GB", tier: "fan" }, timezone: "Europe/London" };
  const start = Date.parse("2026-06-01T09:00:00.000Z");
  for (let n = 0; n < 120; n++) {
    const at = new Date(start + n * 3_600_000 * 20).toISOString();
    const body = eventBody(types, n, "bench-user");
    state = applyEvent(programme, state, { id: String(body.id), type: String(body.type), occurredAt: at, data: body.data as Record<string, unknown>, silent: false }, { now: Date.parse(at) }).state;
  }
  return state;
}

export interface EngineResult {
  campaigns: number;
  eventsPerSecond: number;
  meanMs: number;
  p99Ms: number;
  samples: number;
  /** Events/s of every round, in order (benchEngine's answer only). */
  rounds?: number[];
}

/**
 * The sizes are measured in ROUNDS interleaved rounds (50, 500, 5,000, 50, …), each
 * size's figures taken from its median round by throughput: measured one after the
 * other, a size could land in a slow minute of this shared machine, and the same code's
 * 5,000-vs-50 ratio ranged 0.67–0.82 from run to run.
 */
const ROUNDS = 5;

export async function benchEngine(sizes: number[], timeMs: number): Promise<EngineResult[]> {
  const now = Date.parse("2026-11-25T10:00:00.000Z");
  const subjects = sizes.map((campaigns) => {
    const programme = compiled(campaigns);
    const types = eventTypesOf(campaigns);
    return { campaigns, programme, types, user: seasonedUser(programme, types), n: 1000, rounds: [] as EngineResult[] };
  });
  const roundMs = timeMs / ROUNDS;
  for (let round = 0; round < ROUNDS; round++) {
    for (const subject of subjects) {
      const { programme, types, user } = subject;
      const bench = new Bench({ time: roundMs, warmupTime: Math.min(500, roundMs / 4) });
      bench.add(`${subject.campaigns} campaigns`, () => {
        const body = eventBody(types, subject.n++, "bench-user");
        applyEvent(programme, user, { id: String(body.id), type: String(body.type), occurredAt: "2026-11-25T09:59:00.000Z", data: body.data as Record<string, unknown>, silent: false }, { now });
      });
      await bench.run();
      const r = bench.tasks[0]!.result as unknown as { throughput?: { mean: number }; latency?: { mean: number; p99: number; samples: number[] }; hz?: number; mean?: number; p99?: number; samples?: number[] };
      subject.rounds.push({
        campaigns: subject.campaigns,
        eventsPerSecond: Math.round(r.throughput?.mean ?? r.hz ?? 0),
        meanMs: Number((r.latency?.mean ?? r.mean ?? 0).toFixed(4)),
        p99Ms: Number((r.latency?.p99 ?? r.p99 ?? 0).toFixed(4)),
        samples: (r.latency?.samples ?? r.samples ?? []).length,
      });
    }
  }
  return subjects.map(({ rounds }) => {
    const byThroughput = [...rounds].sort((a, b) => a.eventsPerSecond - b.eventsPerSecond);
    return { ...byThroughput[Math.floor(byThroughput.length / 2)]!, rounds: rounds.map((r) => r.eventsPerSecond) };
  });
}
