import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FifoLock } from "../../src/user/lock";
import { emptyUserState, type Outcome } from "../../src/engine/types";
import { UserStorage } from "../../src/user/storage";
import { MIGRATIONS, UserState, userObjectName } from "../../src/user/user-state";

// The per-user Durable Object (SPEC §1.2): its name, its storage schema versioning and
// its FIFO lock. No RPC here ever rejects (TOOLCHAIN: a rejected DO RPC leaks an
// unhandled rejection in the pool).

let counter = 0;
function stubFor(userId = `u-${Date.now()}-${++counter}`, spaceId = "spc_test_user_state") {
  return env.USERS.getByName(userObjectName(spaceId, userId));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("userObjectName", () => {
  it("is built from the space id and the user id, unambiguously", () => {
    expect(JSON.parse(userObjectName("spc_1", "u:1"))).toEqual(["spc_1", "u:1"]);
    const pairs: Array<[string, string]> = [
      ["a", "b:c"],
      ["a:b", "c"],
      ["a", "b|c"],
      ["a|b", "c"],
      ['a"', "b"],
      ["a", '"b'],
      ["a,", "b"],
      ["a", ",b"],
    ];
    const names = pairs.map(([s, u]) => userObjectName(s, u));
    expect(new Set(names).size).toBe(pairs.length);
  });

  it("the same pair names the same object; another space names another", () => {
    const a = env.USERS.idFromName(userObjectName("spc_1", "u1"));
    const b = env.USERS.idFromName(userObjectName("spc_1", "u1"));
    const c = env.USERS.idFromName(userObjectName("spc_2", "u1"));
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });
});

describe("UserState storage", () => {
  it("schemaVersion() over RPC is the number of migrations", async () => {
    expect(MIGRATIONS.length).toBeGreaterThan(0);
    expect(await stubFor().schemaVersion()).toBe(MIGRATIONS.length);
  });

  it("the migrations created the meta table and recorded the version", async () => {
    const stub = stubFor();
    const { tables, version } = await runInDurableObject(stub, (instance: UserState, state) => {
      expect(instance).toBeInstanceOf(UserState);
      const tables = state.storage.sql
        .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
        .toArray()
        .map((r) => r.name);
      const version = state.storage.sql.exec<{ version: number }>(`SELECT version FROM schema_version`).toArray();
      return { tables, version };
    });
    expect(tables).toContain("meta");
    expect(tables).toContain("schema_version");
    expect(version).toEqual([{ version: MIGRATIONS.length }]);
  });

  it("the meta table is usable (key/value, key unique)", async () => {
    const stub = stubFor();
    const rows = await runInDurableObject(stub, (_instance: UserState, state) => {
      const sql = state.storage.sql;
      sql.exec(`INSERT INTO meta (key, value) VALUES ('k', 'v1')`);
      let duplicateRefused = false;
      try {
        sql.exec(`INSERT INTO meta (key, value) VALUES ('k', 'v2')`);
      } catch {
        duplicateRefused = true;
      }
      return { duplicateRefused, rows: sql.exec(`SELECT key, value FROM meta`).toArray() };
    });
    expect(rows).toEqual({ duplicateRefused: true, rows: [{ key: "k", value: "v1" }] });
  });

  it("objects are separate per user: one user's storage is not another's", async () => {
    const first = stubFor();
    const second = stubFor();
    await runInDurableObject(first, (_i: UserState, state) => {
      state.storage.sql.exec(`INSERT INTO meta (key, value) VALUES ('owner', 'first')`);
    });
    const seen = await runInDurableObject(second, (_i: UserState, state) =>
      state.storage.sql.exec(`SELECT value FROM meta WHERE key = 'owner'`).toArray(),
    );
    expect(seen).toEqual([]);
    expect(await second.schemaVersion()).toBe(MIGRATIONS.length);
  });
});

describe("campaign states in rows of their own", () => {
  const held = (completions: number) => ({ completions, period: "all", periodCompletions: completions, progress: {} });

  it("a document stored with its campaigns inside (before the rows) moves them into rows on first load, once", async () => {
    const stored = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const sql = state.storage.sql;
      const legacy = { ...emptyUserState("u1"), createdAt: "2026-11-01T00:00:00.000Z", campaigns: { a: held(1), b: held(2) } };
      sql.exec(`INSERT OR REPLACE INTO user_state (id, json) VALUES (1, ?)`, JSON.stringify(legacy));
      const storage = new UserStorage(sql);
      const first = storage.loadState();
      const document = JSON.parse(sql.exec<{ json: string }>(`SELECT json FROM user_state`).one().json);
      const rows = sql.exec(`SELECT id FROM campaign_states ORDER BY id`).toArray();
      return { first, second: storage.loadState(), documentHasCampaigns: "campaigns" in document, rows };
    });
    expect(stored.first?.campaigns).toEqual({ a: held(1), b: held(2) });
    expect(stored.second).toEqual(stored.first);
    expect(stored.documentHasCampaigns).toBe(false);
    expect(stored.rows).toEqual([{ id: "a" }, { id: "b" }]);
  });

  it("saveState writes the document without campaigns and only the changed campaign rows", async () => {
    const result = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const sql = state.storage.sql;
      const storage = new UserStorage(sql);
      const base = { ...emptyUserState("u1"), createdAt: "2026-11-01T00:00:00.000Z", campaigns: { a: held(1), b: held(2) } };
      storage.saveState(base, base.campaigns);
      // A later save names one change; the state's map (which also holds b) is not read.
      storage.saveState({ ...base, campaigns: { a: held(9), b: held(99), c: held(3) } }, { a: held(9), c: held(3) });
      const document = JSON.parse(sql.exec<{ json: string }>(`SELECT json FROM user_state`).one().json);
      return { loaded: storage.loadState(), documentHasCampaigns: "campaigns" in document };
    });
    expect(result.documentHasCampaigns).toBe(false);
    expect(result.loaded?.campaigns).toEqual({ a: held(9), b: held(2), c: held(3) });
  });
});

describe("the compact ledger", () => {
  it("an object with the old ledger (ISO times, JSON source) is migrated: same entries read back, sequence continues", async () => {
    const result = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const sql = state.storage.sql;
      // The ledger as it was stored before the compaction migration.
      sql.exec(`DROP TABLE ledger`);
      sql.exec(`CREATE TABLE ledger (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, metric TEXT NOT NULL, delta INTEGER NOT NULL,
        requested INTEGER, balance_after INTEGER NOT NULL, reason TEXT NOT NULL, source TEXT NOT NULL,
        occurred_at TEXT NOT NULL, at TEXT NOT NULL)`);
      const legacy = [
        ["points", 10, null, 10, "campaign", { eventId: "e1", campaign: "c1", step: "s1" }, "2026-11-25T10:00:00.123Z", "2026-11-25T10:00:01.999Z"],
        ["points", -4, -5, 6, "redemption", { redemption: "rdm_1", eventId: "op_1" }, "1999-12-31T23:59:59.001Z", "2026-11-25T10:00:02.000Z"],
        ["xp", 3, null, 3, "adjustment", { adjustmentBy: "key_1", derivedEventId: "e1#2" }, "2026-03-29T01:30:00.500Z", "2026-03-29T01:30:00.501Z"],
      ] as const;
      for (const [metric, delta, requested, balance, reason, source, occurredAt, at] of legacy) {
        sql.exec(`INSERT INTO ledger (metric, delta, requested, balance_after, reason, source, occurred_at, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, metric, delta, requested, balance, reason, JSON.stringify(source), occurredAt, at);
      }
      const firstNew = MIGRATIONS.findIndex((m) => m.includes("CREATE TABLE ledger_compact"));
      sql.exec(`UPDATE schema_version SET version = ?`, firstNew);
      const storage = new UserStorage(sql);
      storage.migrate((fn) => state.storage.transactionSync(fn));
      storage.appendLedger([{ metric: "points", delta: 1, balanceAfter: 7, reason: "campaign", source: { eventId: "e2" }, occurredAt: "2026-11-26T00:00:00.000Z" }], "2026-11-26T00:00:00.007Z");
      const columns = sql.exec<{ name: string }>(`SELECT name FROM pragma_table_info('ledger')`).toArray().map((c) => c.name);
      return { version: storage.schemaVersion(), points: storage.ledger("points", 10), xp: storage.ledger("xp", 10), columns };
    });
    expect(result.version).toBe(MIGRATIONS.length);
    expect(result.columns).not.toContain("source");
    expect(result.points).toEqual([
      { id: "led_4", seq: 4, metric: "points", delta: 1, balanceAfter: 7, reason: "campaign", source: { eventId: "e2" }, occurredAt: "2026-11-26T00:00:00.000Z", at: "2026-11-26T00:00:00.007Z" },
      { id: "led_2", seq: 2, metric: "points", delta: -4, requested: -5, balanceAfter: 6, reason: "redemption", source: { eventId: "op_1", redemption: "rdm_1" }, occurredAt: "1999-12-31T23:59:59.001Z", at: "2026-11-25T10:00:02.000Z" },
      { id: "led_1", seq: 1, metric: "points", delta: 10, balanceAfter: 10, reason: "campaign", source: { eventId: "e1", campaign: "c1", step: "s1" }, occurredAt: "2026-11-25T10:00:00.123Z", at: "2026-11-25T10:00:01.999Z" },
    ]);
    expect(result.xp).toEqual([
      { id: "led_3", seq: 3, metric: "xp", delta: 3, balanceAfter: 3, reason: "adjustment", source: { derivedEventId: "e1#2", adjustmentBy: "key_1" }, occurredAt: "2026-03-29T01:30:00.500Z", at: "2026-03-29T01:30:00.501Z" },
    ]);
  });
});

describe("stored outcomes", () => {
  it("are deflated (a fraction of their JSON), read back exactly, and rows stored as JSON text still read", async () => {
    const outcome = {
      steps: [1, 2, 3, 4].map((n) => ({ campaign: `cmp-${n}`, step: "s0", progress: 1, target: 1, completed: true })),
      effects: [1, 2, 3, 4].map((n) => ({ campaign: `cmp-${n}`, step: "s0", type: "metric.add", status: "applied", metric: "points", amount: 2, balance: 100 + n })),
      late: false,
    } as unknown as Outcome;
    const result = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const sql = state.storage.sql;
      const storage = new UserStorage(sql);
      sql.exec(`INSERT INTO activity (event_id, type, occurred_at, at, outcome) VALUES ('old', 'visit', '2026-11-01T00:00:00.000Z', 1, ?)`, JSON.stringify({ legacy: true }));
      storage.recordActivity("new", "buy", "2026-11-26T00:00:00.000Z", 2, outcome);
      const stored = sql.exec<{ type: string; bytes: number }>(`SELECT typeof(outcome) AS type, length(outcome) AS bytes FROM activity WHERE event_id = 'new'`).one();
      return { stored, newOne: JSON.parse(storage.outcomeJsonOf("new")!), oldOne: JSON.parse(storage.outcomeJsonOf("old")!), listed: storage.activity(10).map((a) => a.outcome) };
    });
    expect(result.newOne).toEqual(outcome);
    expect(result.oldOne).toEqual({ legacy: true });
    expect(result.listed).toEqual([outcome, { legacy: true }]);
    expect(result.stored.type).toBe("blob");
    expect(result.stored.bytes).toBeLessThan(JSON.stringify(outcome).length / 2);
  });
});

describe("FifoLock", () => {
  it("runs tasks one at a time, in arrival order, across awaits of timers", async () => {
    const lock = new FifoLock();
    const trace: string[] = [];
    // The first task waits longest: without the lock the later ones would finish first.
    const delays = [30, 5, 0, 15, 1];
    const results = await Promise.all(
      delays.map((ms, i) =>
        lock.run(async () => {
          trace.push(`start ${i}`);
          await sleep(ms);
          await Promise.resolve();
          await sleep(0);
          trace.push(`end ${i}`);
          return i * 10;
        }),
      ),
    );
    expect(results).toEqual([0, 10, 20, 30, 40]);
    expect(trace).toEqual(delays.flatMap((_, i) => [`start ${i}`, `end ${i}`]));
  });

  it("the same tasks without the lock interleave (the test above can tell)", async () => {
    const trace: string[] = [];
    const delays = [30, 5, 0];
    await Promise.all(
      delays.map(async (ms, i) => {
        trace.push(`start ${i}`);
        await sleep(ms);
        trace.push(`end ${i}`);
      }),
    );
    expect(trace).not.toEqual(delays.flatMap((_, i) => [`start ${i}`, `end ${i}`]));
  });

  it("a failing task rejects its own caller and does not block the next", async () => {
    const lock = new FifoLock();
    const trace: string[] = [];
    const first = lock.run(async () => {
      trace.push("first");
      await sleep(5);
      throw new Error("boom");
    });
    const second = lock.run(async () => {
      trace.push("second");
      return "ok";
    });
    const third = lock.run(() => {
      trace.push("third");
      return Promise.reject(new Error("sync-ish failure"));
    });
    const fourth = lock.run(async () => {
      trace.push("fourth");
      return 4;
    });
    await expect(first).rejects.toThrow("boom");
    await expect(second).resolves.toBe("ok");
    await expect(third).rejects.toThrow("sync-ish failure");
    await expect(fourth).resolves.toBe(4);
    expect(trace).toEqual(["first", "second", "third", "fourth"]);
  });

  it("a task that throws synchronously does not block the next either", async () => {
    const lock = new FifoLock();
    const thrown = lock.run((() => {
      throw new Error("sync");
    }) as () => Promise<never>);
    await expect(thrown).rejects.toThrow("sync");
    await expect(lock.run(async () => "after")).resolves.toBe("after");
  });

  it("a task queued from inside a running task runs after it", async () => {
    const lock = new FifoLock();
    const trace: string[] = [];
    let inner: Promise<void> | undefined;
    await lock.run(async () => {
      trace.push("outer start");
      inner = lock.run(async () => {
        trace.push("inner");
      });
      await sleep(5);
      trace.push("outer end");
    });
    await inner;
    expect(trace).toEqual(["outer start", "outer end", "inner"]);
  });
});
