import type { Env } from "../env";

// Test-only fault switches (issue #10). A switch fires only when BOTH hold:
//   1. the deployment's env has TEST_FAULT_INJECTION = "on" (vitest.config.ts sets it;
//      wrangler.toml never does), and
//   2. the user's own Durable Object storage holds the row `meta[testFault:<name>]`.
// Nothing in the Worker or the object ever writes such a row: a test writes it with
// runInDurableObject (armFault below), so even an env set by mistake arms nothing. The
// row lives in the one user's storage, so a switch is armed for one (space, user), works
// whatever isolate runs the object, survives the object being restarted, and is visible
// to the object's alarm as well as to its requests. In production the check is one
// string comparison (condition 1 fails first).

export const FAULTS = {
  /** The object's next start (its constructor) throws once after the migrations: a transient start failure. */
  "do.start": "the user's object fails to start",
  /** Inside an event's transactionSync, after the state and ledger rows, before the outbox rows. */
  "do.transaction": "the user's storage fails mid-event",
  /** flushOutbox → DELIVERIES.sendBatch throws (nothing was sent). */
  "queue.deliveries": "the deliveries queue refuses a send",
  /** flushOutbox → INDEX.sendBatch throws (nothing was sent). */
  "queue.index": "the index queue refuses a send",
  /** The reservation batch throws before it reached D1 (nothing was taken). */
  "d1.reserve.before": "D1 fails the reservation batch",
  /** The reservation batch commits in D1, then the call throws: D1 took the stock, the object saw an error. */
  "d1.reserve.after": "D1 applies the reservation batch but answers an error",
  /** Confirming/releasing pending reservations (after a commit, by the alarm) throws before D1 is asked. */
  "d1.settle": "D1 fails while reservations are settled",
} as const;

export type FaultName = keyof typeof FAULTS;

/** The meta key of a switch in the user's object storage. */
export const faultKey = (name: FaultName): string => `testFault:${name}`;

/** Whether `name` is armed for this user's object. One comparison unless TEST_FAULT_INJECTION is "on". */
export function faultArmed(env: Env, sql: SqlStorage, name: FaultName): boolean {
  if (env.TEST_FAULT_INJECTION !== "on") return false;
  return sql.exec(`SELECT 1 FROM meta WHERE key = ?`, faultKey(name)).toArray().length > 0;
}

/** Throws `InjectedFault` if `name` is armed. */
export function injectFault(env: Env, sql: SqlStorage, name: FaultName): void {
  if (faultArmed(env, sql, name)) throw new InjectedFault(name);
}

/** Armings of `do.start` that already fired in this isolate: each fires once, so a retry reaches the object. */
const startFaultsFired = new Set<string>();

/** Throws `InjectedFault("do.start")` on the first start of this object after the switch was armed. */
export function injectStartFault(env: Env, sql: SqlStorage, objectId: string): void {
  if (env.TEST_FAULT_INJECTION !== "on") return;
  const arming = sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, faultKey("do.start")).toArray()[0]?.value;
  if (arming === undefined || startFaultsFired.has(`${objectId}:${arming}`)) return;
  startFaultsFired.add(`${objectId}:${arming}`);
  throw new InjectedFault("do.start");
}

export class InjectedFault extends Error {
  constructor(readonly fault: FaultName) {
    super(`injected fault: ${FAULTS[fault]} (${fault})`);
    this.name = "InjectedFault";
  }
}

/**
 * The D1 binding the object reserves with: env.DB itself unless a `d1.reserve.*` switch
 * is armed, then a wrapper whose `batch` fails before reaching D1 or after D1 committed.
 */
export function reservationDb(env: Env, sql: SqlStorage): D1Database {
  if (env.TEST_FAULT_INJECTION !== "on") return env.DB;
  const before = faultArmed(env, sql, "d1.reserve.before");
  const after = faultArmed(env, sql, "d1.reserve.after");
  if (!before && !after) return env.DB;
  const db = env.DB;
  const wrapped: Pick<D1Database, "prepare" | "batch"> = {
    prepare: (query: string) => db.prepare(query),
    batch: async <T>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> => {
      if (before) throw new InjectedFault("d1.reserve.before");
      await db.batch<T>(statements);
      throw new InjectedFault("d1.reserve.after");
    },
  };
  return wrapped as D1Database;
}

/** Arms `name` in an object's storage (tests only: called inside runInDurableObject). */
export function armFault(sql: SqlStorage, name: FaultName): void {
  // A new value per arming: a one-shot switch (do.start) fires once per arming.
  sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`, faultKey(name), crypto.randomUUID());
}

export function disarmFault(sql: SqlStorage, name: FaultName): void {
  sql.exec(`DELETE FROM meta WHERE key = ?`, faultKey(name));
}
