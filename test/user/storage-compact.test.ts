import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deflateRawSync } from "node:zlib";
import { hash16 } from "../../src/crypto/hash";
import type { LedgerEntryDraft } from "../../src/engine/types";
import { UserStorage, type LedgerEntry } from "../../src/user/storage";
import { MIGRATIONS, UserState, userObjectName } from "../../src/user/user-state";

// How a user's object keeps a user-year small (issue 9, bench/README.md): the ledger in
// blocks (an open JSON block, sealed deflated blocks, and the rows of a ledger written
// before blocks), seen event ids as bytes, small tables WITHOUT ROWID, activity pruned in
// seq order. Every reader must answer exactly what one row per entry answered.

let counter = 0;
const stubFor = () => env.USERS.getByName(userObjectName("spc_test_storage_compact", `u-${Date.now()}-${++counter}`));

/** `events` events of 1–3 entries on two metrics, each event's entries sharing its id. */
function draftEvents(events: number, firstEvent = 0): LedgerEntryDraft[][] {
  const balance: Record<string, number> = { points: 0, xp: 0 };
  return Array.from({ length: events }, (_, i) => {
    const n = firstEvent + i;
    return Array.from({ length: 1 + (n % 3) }, (_, k) => {
      const metric = (n + k) % 4 === 0 ? "xp" : "points";
      const delta = ((n * 7 + k) % 11) - 3 || 1;
      balance[metric]! += delta;
      return {
        metric,
        delta,
        ...(k === 2 ? { requested: delta + 1 } : {}),
        balanceAfter: balance[metric]!,
        reason: k === 1 ? "redemption" : "effect",
        source: { eventId: `e${n}`, ...(k === 1 ? { redemption: `rdm_${n}`, derivedEventId: `e${n}#1` } : { campaign: `c${n % 5}`, step: "s0" }) },
        occurredAt: new Date(Date.UTC(2027, 0, 1) + n * 60_000).toISOString(),
      };
    });
  });
}

/** What one row per entry would answer: every entry numbered in order, newest first. */
function modelOf(events: LedgerEntryDraft[][], firstSeq = 1, at = (i: number) => new Date(Date.UTC(2027, 0, 1) + i * 60_000 + 5).toISOString()): LedgerEntry[] {
  let seq = firstSeq;
  return events
    .flatMap((entries, i) => entries.map((e) => ({ id: `led_${seq}`, seq: seq++, ...e, at: at(i) })))
    .map(({ requested, source, ...rest }) => ({ ...rest, ...(requested !== undefined ? { requested } : {}), source }))
    .reverse();
}

/** Every page of one metric's ledger, following `before` cursors, as the routes do. */
function pagesOf(storage: UserStorage, metric: string, limit: number): LedgerEntry[][] {
  const pages: LedgerEntry[][] = [];
  let before: number | undefined;
  for (;;) {
    const page = storage.ledger(metric, limit, before);
    if (page.length === 0) return pages;
    pages.push(page);
    before = page[page.length - 1]!.seq;
  }
}

describe("the ledger in blocks", () => {
  it("reads back every entry exactly, page by page, across the open block, sealed blocks and the boundary of an event", async () => {
    const events = draftEvents(120); // 240 entries: several sealed blocks of 64 and an open one
    // An event whose entries straddle the first sealed block and the next.
    let written = 0;
    const straddling = events.findIndex((entries) => (written += entries.length) > 64 && written - entries.length < 64);
    expect(straddling).toBeGreaterThan(0);
    const straddlingId = `e${straddling}`;
    const result = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const storage = new UserStorage(state.storage.sql);
      events.forEach((entries, i) => storage.appendLedger(entries, new Date(Date.UTC(2027, 0, 1) + i * 60_000 + 5).toISOString()));
      const sql = state.storage.sql;
      return {
        blocks: sql.exec<{ first: number; last: number; type: string }>(`SELECT first_seq AS first, last_seq AS last, typeof(entries) AS type FROM ledger_blocks ORDER BY first_seq`).toArray(),
        open: sql.exec<{ first: number; type: string }>(`SELECT first_seq AS first, typeof(entries) AS type FROM ledger_open`).toArray(),
        rows: sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ledger`).one().n,
        pages: { points7: pagesOf(storage, "points", 7), points100: pagesOf(storage, "points", 100), xp13: pagesOf(storage, "xp", 13), none: pagesOf(storage, "coins", 5) },
        sums: { points: storage.ledgerSum("points"), xp: storage.ledgerSum("xp") },
        straddling: storage.ledgerOfEvent(straddlingId),
      };
    });
    const model = modelOf(events);
    const total = model.length;
    expect(result.rows).toBe(0);
    expect(result.blocks.map((b) => [b.first, b.last, b.type])).toEqual(
      Array.from({ length: Math.floor((total - 1) / 64) }, (_, i) => [i * 64 + 1, i * 64 + 64, "blob"]),
    );
    expect(result.open).toEqual([{ first: Math.floor((total - 1) / 64) * 64 + 1, type: "text" }]);
    for (const [metric, pages, limit] of [["points", result.pages.points7, 7], ["points", result.pages.points100, 100], ["xp", result.pages.xp13, 13]] as const) {
      const expected = model.filter((e) => e.metric === metric);
      expect(pages.flat()).toEqual(expected);
      expect(pages.slice(0, -1).every((p) => p.length === limit)).toBe(true);
    }
    expect(result.pages.none).toEqual([]);
    expect(result.sums).toEqual({
      points: model.filter((e) => e.metric === "points").reduce((s, e) => s + e.delta, 0),
      xp: model.filter((e) => e.metric === "xp").reduce((s, e) => s + e.delta, 0),
    });
    expect(result.straddling.map((e) => e.id)).toEqual(model.filter((e) => e.source.eventId === straddlingId).map((e) => e.id).reverse());
    expect(result.straddling.length).toBeGreaterThan(1);
  });

  it("one event with more entries than a block seals the open block, a whole block of its own, and opens the next", async () => {
    const small = draftEvents(25); // 50 entries: an open block holding 50
    const big = [draftEvents(75, 25).flat().map((e) => ({ ...e, source: { ...e.source, eventId: "big" } }))]; // 150 entries at once
    const after = draftEvents(3, 100);
    const events = [...small, ...big, ...after];
    const result = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const storage = new UserStorage(state.storage.sql);
      events.forEach((entries, i) => storage.appendLedger(entries, new Date(Date.UTC(2027, 0, 1) + i * 60_000 + 5).toISOString()));
      const sql = state.storage.sql;
      return {
        blocks: sql.exec<{ first: number; last: number }>(`SELECT first_seq AS first, last_seq AS last FROM ledger_blocks ORDER BY first_seq`).toArray(),
        open: sql.exec<{ first: number; entries: string }>(`SELECT first_seq AS first, entries FROM ledger_open`).one(),
        points: pagesOf(storage, "points", 11).flat(),
        big: storage.ledgerOfEvent("big").map((e) => e.id),
      };
    });
    const model = modelOf(events);
    const total = model.length;
    expect(result.blocks.map((b) => [b.first, b.last])).toEqual([[1, 64], [65, 128], [129, 192]]);
    // The open block's text, appended to in place, is still the JSON of its entries.
    const open = JSON.parse(result.open.entries) as unknown[][];
    expect(result.open.first).toBe(193);
    expect(open.map((e) => e[0])).toEqual(Array.from({ length: total - 192 }, (_, i) => 193 + i));
    expect(result.points).toEqual(model.filter((e) => e.metric === "points"));
    expect(result.big).toEqual(model.filter((e) => e.source.eventId === "big").map((e) => e.id).reverse());
    expect(result.big.length).toBe(150);
  });

  it("entries whose text is not ASCII are appended to the open block's text exactly", async () => {
    const reasons = ["Geschenk für 🎉 Fans", "返金", "plain", "naïve \"quoted\" \\ reason"];
    const events = draftEvents(12).map((entries, i) => entries.map((e) => ({ ...e, reason: reasons[i % reasons.length]! })));
    const result = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const storage = new UserStorage(state.storage.sql);
      events.forEach((entries, i) => storage.appendLedger(entries, new Date(Date.UTC(2027, 0, 1) + i * 60_000 + 5).toISOString()));
      return { points: pagesOf(storage, "points", 5).flat(), xp: pagesOf(storage, "xp", 5).flat() };
    });
    const model = modelOf(events);
    expect(result.points).toEqual(model.filter((e) => e.metric === "points"));
    expect(result.xp).toEqual(model.filter((e) => e.metric === "xp"));
    expect(new Set(result.points.map((e) => e.reason))).toEqual(new Set(reasons));
  });

  it("an event's entries for a reversal are read back from the newest block only as far as the event", async () => {
    const events = draftEvents(120);
    const result = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const storage = new UserStorage(state.storage.sql);
      events.forEach((entries, i) => storage.appendLedger(entries, new Date(Date.UTC(2027, 0, 1) + i * 60_000 + 5).toISOString()));
      // The oldest sealed block made unreadable: a walk that reached it would throw.
      state.storage.sql.exec(`UPDATE ledger_blocks SET entries = X'00FF00FF' WHERE first_seq = 1`);
      const recent = storage.ledgerOfEvent("e110").map((e) => e.id);
      let oldest: string;
      try {
        storage.ledgerOfEvent("e2");
        oldest = "read";
      } catch {
        oldest = "threw";
      }
      return { recent, oldest };
    });
    expect(result.recent).toEqual(modelOf(events).filter((e) => e.source.eventId === "e110").map((e) => e.id).reverse());
    expect(result.recent.length).toBeGreaterThan(0);
    expect(result.oldest).toBe("threw"); // the corruption is real: only the early stop avoids it
  });

  it("an object with a ledger of rows (before blocks) keeps them: numbering continues, pages run from the blocks into the rows", async () => {
    const older = draftEvents(30);
    const newer = draftEvents(50, 30);
    const result = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const sql = state.storage.sql;
      // The rows as the compact ledger stored them, written before the blocks existed.
      let seq = 0;
      older.forEach((entries, i) => {
        for (const e of entries) {
          sql.exec(
            `INSERT INTO ledger (seq, metric, delta, requested, balance_after, reason, event_id, derived_event_id, campaign, step, redemption, occurred_at, at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            ++seq, e.metric, e.delta, e.requested ?? null, e.balanceAfter, e.reason, e.source.eventId ?? null, e.source.derivedEventId ?? null,
            e.source.campaign ?? null, e.source.step ?? null, e.source.redemption ?? null, Date.parse(e.occurredAt), Date.UTC(2027, 0, 1) + i * 60_000 + 5,
          );
        }
      });
      const storage = new UserStorage(sql);
      newer.forEach((entries, i) => storage.appendLedger(entries, new Date(Date.UTC(2027, 0, 1) + (30 + i) * 60_000 + 5).toISOString()));
      return {
        points: pagesOf(storage, "points", 9).flat(),
        xp: pagesOf(storage, "xp", 4).flat(),
        sum: storage.ledgerSum("points"),
        firstOlderEvent: storage.ledgerOfEvent("e2").map((e) => e.id),
        blocks: sql.exec<{ first: number }>(`SELECT first_seq AS first FROM ledger_blocks ORDER BY first_seq`).toArray().map((b) => b.first),
      };
    });
    const model = modelOf([...older, ...newer]);
    expect(result.points).toEqual(model.filter((e) => e.metric === "points"));
    expect(result.xp).toEqual(model.filter((e) => e.metric === "xp"));
    expect(result.sum).toBe(model.filter((e) => e.metric === "points").reduce((s, e) => s + e.delta, 0));
    expect(result.firstOlderEvent).toEqual(model.filter((e) => e.source.eventId === "e2").map((e) => e.id).reverse());
    const olderEntries = older.flat().length;
    expect(result.blocks[0]).toBe(olderEntries + 1); // the first block starts after the rows
  });
});

describe("seen event ids", () => {
  it("are stored as 24 bytes; the same id with the same body is found, with another body it is not the same; text rows written before still count", async () => {
    const [id, body, otherBody, oldId, oldBody] = await Promise.all(["evt-1", '{"type":"a"}', '{"type":"b"}', "evt-old", '{"type":"c"}'].map(hash16));
    const result = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const sql = state.storage.sql;
      const storage = new UserStorage(sql);
      storage.recordSeen(id!, body!);
      sql.exec(`INSERT INTO seen_events (id_hash, body_hash) VALUES (?, ?)`, oldId, oldBody);
      return {
        stored: sql.exec<{ type: string; bytes: number }>(`SELECT typeof(id_hash) AS type, length(id_hash) + length(body_hash) AS bytes FROM seen_events WHERE typeof(id_hash) = 'blob'`).toArray(),
        same: storage.seenEvent(id!, body!),
        other: storage.seenEvent(id!, otherBody!),
        idOnly: storage.seenEvent(id!) !== undefined,
        never: storage.seenEvent(otherBody!, body!),
        oldSame: storage.seenEvent(oldId!, oldBody!),
        oldOther: storage.seenEvent(oldId!, body!),
      };
    });
    expect(result.stored).toEqual([{ type: "blob", bytes: 24 }]);
    expect(result).toMatchObject({ same: { sameBody: true }, other: { sameBody: false }, idOnly: true, never: undefined, oldSame: { sameBody: true }, oldOther: { sameBody: false } });
  });
});

describe("stored outcomes with a preset dictionary", () => {
  it("take a fraction of what deflate alone takes, and outcomes deflated before without it still read", async () => {
    const outcome = {
      steps: [{ campaign: "welcome", step: "first-visit", progress: 1, target: 1, completed: true }],
      campaignsCompleted: [{ campaign: "welcome", completions: 1 }],
      effects: [{ campaign: "welcome", step: "first-visit", type: "metric.add", status: "applied", metric: "points", amount: 50, balance: 50 }],
      changes: [],
      derivedEvents: [1, 2, 3].map((n) => ({ id: `visit-1#${n}`, type: ["loyalty.metric.changed", "loyalty.step.completed", "loyalty.campaign.completed"][n - 1], depth: 1 })),
      late: false,
      cascadeLimited: false,
    };
    const json = JSON.stringify(outcome);
    const plain = deflateRawSync(new TextEncoder().encode(json));
    const result = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const sql = state.storage.sql;
      const storage = new UserStorage(sql);
      storage.recordActivity("new", "visit", "2027-01-01T00:00:00.000Z", 2, outcome as never);
      sql.exec(`INSERT INTO activity (event_id, type, occurred_at, at, outcome) VALUES ('before', 'visit', '2027-01-01T00:00:00.000Z', 1, ?)`, plain.buffer.slice(plain.byteOffset, plain.byteOffset + plain.byteLength));
      const bytes = sql.exec<{ bytes: number }>(`SELECT length(outcome) AS bytes FROM activity WHERE event_id = 'new'`).one().bytes;
      return { bytes, newOne: JSON.parse(storage.outcomeJsonOf("new")!), before: JSON.parse(storage.outcomeJsonOf("before")!) };
    });
    expect(result.newOne).toEqual(outcome);
    expect(result.before).toEqual(outcome);
    expect(result.bytes).toBeLessThan(plain.byteLength * 0.6);
  });
});

describe("activity retention", () => {
  it("prunes the rows older than the retention and keeps the rest, oldest first, also when every row expired", async () => {
    const result = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const sql = state.storage.sql;
      const storage = new UserStorage(sql);
      const day = 86_400_000;
      const now = Date.UTC(2027, 5, 1);
      for (const [id, age] of [["a", 40], ["b", 31], ["c", 29], ["d", 1]] as const) {
        storage.recordActivity(id, "visit", new Date(now - age * day).toISOString(), now - age * day, { late: false } as never);
      }
      storage.pruneActivity(now, 30 * day);
      const afterFirst = storage.activity(10).map((a) => a.eventId);
      storage.pruneActivity(now, 7 * day); // a deployment that keeps a week
      const afterWeek = storage.activity(10).map((a) => a.eventId);
      storage.pruneActivity(now + 30 * day, 30 * day);
      const afterAll = storage.activity(10).map((a) => a.eventId);
      return { afterFirst, afterWeek, afterAll };
    });
    expect(result.afterFirst).toEqual(["d", "c"]);
    expect(result.afterWeek).toEqual(["d"]);
    expect(result.afterAll).toEqual([]);
  });
});

describe("small tables rebuilt WITHOUT ROWID", () => {
  it("keep their rows through the migration", async () => {
    const result = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const sql = state.storage.sql;
      // The tables as they were before the rebuild, with a row each.
      const before = MIGRATIONS.findIndex((m) => m.startsWith("CREATE TABLE meta_rebuilt"));
      for (const table of ["meta", "timers", "pending_reservations", "applied_reservations", "push_subscriptions", "redemptions"]) sql.exec(`DROP TABLE ${table}`);
      for (const statement of MIGRATIONS.filter((m) => /^CREATE TABLE IF NOT EXISTS (meta|timers|pending_reservations|applied_reservations|push_subscriptions|redemptions) /.test(m))) sql.exec(statement);
      sql.exec(`INSERT INTO meta (key, value) VALUES ('spaceId', 'spc_1')`);
      sql.exec(`INSERT INTO timers (name, due_at) VALUES ('streaks', 5)`);
      sql.exec(`INSERT INTO pending_reservations (id, created_at) VALUES ('rsv_1', 6)`);
      sql.exec(`INSERT INTO applied_reservations (id, at) VALUES ('rsv_2', 7)`);
      sql.exec(`INSERT INTO push_subscriptions (endpoint, p256dh, auth, created_at) VALUES ('https://push.example/1', 'k', 'a', 8)`);
      sql.exec(`INSERT INTO redemptions (id, product, quantity, price, codes, reservation_id, status, created_at) VALUES ('rdm_1', 'scarf', 1, '{"metric":"points","amount":5}', '[]', NULL, 'completed', 9)`);
      sql.exec(`UPDATE schema_version SET version = ?`, before);
      const storage = new UserStorage(sql);
      storage.migrate((fn) => state.storage.transactionSync(fn));
      const withoutRowid = sql
        .exec<{ name: string; sql: string }>(`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'timers', 'pending_reservations', 'applied_reservations', 'push_subscriptions', 'redemptions')`)
        .toArray()
        .filter((t) => t.sql.includes("WITHOUT ROWID"))
        .map((t) => t.name)
        .sort();
      return {
        version: storage.schemaVersion(),
        withoutRowid,
        meta: storage.meta("spaceId"),
        timer: storage.timer("streaks"),
        pending: storage.pendingReservations(),
        applied: storage.reservationApplied("rsv_2"),
        push: storage.pushSubscriptions(),
        redemption: storage.redemption("rdm_1"),
      };
    });
    expect(result.version).toBe(MIGRATIONS.length);
    expect(result.withoutRowid).toEqual(["applied_reservations", "meta", "pending_reservations", "push_subscriptions", "redemptions", "timers"]);
    expect(result).toMatchObject({ meta: "spc_1", timer: 5, pending: ["rsv_1"], applied: true, push: [{ endpoint: "https://push.example/1", keys: { p256dh: "k", auth: "a" } }] });
    expect(result.redemption).toMatchObject({ id: "rdm_1", product: "scarf", quantity: 1, price: { metric: "points", amount: 5 }, status: "completed", createdAt: 9 });
  });
});

describe("a new object's schema", () => {
  it("is created at once, exactly as replaying every migration leaves it", async () => {
    const result = await runInDurableObject(stubFor(), (_i: UserState, state) => {
      const sql = state.storage.sql;
      const dropAll = () => {
        const objects = sql.exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`).toArray();
        for (const { name } of objects) sql.exec(`DROP TABLE "${name}"`);
      };
      const schema = () => {
        const objects = sql
          .exec<{ type: string; name: string; tbl: string; sql: string | null }>(
            `SELECT type, name, tbl_name AS tbl, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name`,
          )
          .toArray();
        return objects.map((o) => ({
          type: o.type,
          name: o.name,
          table: o.tbl,
          withoutRowid: /WITHOUT ROWID/i.test(o.sql ?? ""),
          autoincrement: /AUTOINCREMENT/i.test(o.sql ?? ""),
          columns:
            o.type === "table"
              ? sql.exec(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)`, o.name).toArray()
              : sql.exec(`SELECT name FROM pragma_index_info(?)`, o.name).toArray(),
        }));
      };
      dropAll();
      for (const statement of MIGRATIONS) sql.exec(statement);
      const replayed = schema();
      dropAll();
      const storage = new UserStorage(sql);
      storage.migrate((fn) => state.storage.transactionSync(fn));
      return { replayed, created: schema(), version: storage.schemaVersion() };
    });
    expect(result.version).toBe(MIGRATIONS.length);
    expect(result.created.filter((o) => o.name !== "schema_version")).toEqual(result.replayed);
    expect(result.created.length).toBeGreaterThan(15);
  });
});
