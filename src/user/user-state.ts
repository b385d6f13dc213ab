import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { FifoLock } from "./lock";

// One object per (space, user): the single writer of that user's loyalty state (SPEC
// §1.2). The foundation only lays down its storage schema versioning and its lock; the
// engine issue adds the state tables and the RPC methods (applyEvent, getState, …),
// each a thin wrapper around the pure engine.

/** Storage migrations, applied in order; the applied count lives in `schema_version`. */
export const MIGRATIONS: string[] = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
];

/** Durable Object names: the space's immutable id and the user id, unambiguously. */
export function userObjectName(spaceId: string, userId: string): string {
  return JSON.stringify([spaceId, userId]);
}

export class UserState extends DurableObject<Env> {
  protected readonly lock = new FifoLock();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => this.migrate());
  }

  private migrate(): void {
    const sql = this.ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`);
    const row = sql.exec<{ version: number }>(`SELECT version FROM schema_version`).toArray()[0];
    const applied = row?.version ?? 0;
    if (applied >= MIGRATIONS.length) return;
    this.ctx.storage.transactionSync(() => {
      for (const statement of MIGRATIONS.slice(applied)) sql.exec(statement);
      sql.exec(`DELETE FROM schema_version`);
      sql.exec(`INSERT INTO schema_version (version) VALUES (?)`, MIGRATIONS.length);
    });
  }

  /** Storage schema version; lets tests and operators check an object is initialised. */
  async schemaVersion(): Promise<number> {
    const row = this.ctx.storage.sql.exec<{ version: number }>(`SELECT version FROM schema_version`).toArray()[0];
    return row?.version ?? 0;
  }
}
