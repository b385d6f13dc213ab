import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { applyAdminOp, type AdminOp } from "../engine/admin";
import { configOf } from "../config";
import { adoptCampaignChanges, applyEvent, finishRun, startRun, type RootEvent } from "../engine/evaluate";
import { nextStreakTimer, settleAllStreaks } from "../engine/streak-run";
import type { EvaluationResult, Outcome, OutboxMessage, Programme, ReservationAnswer, UserState as UserStateDocument } from "../engine/types";
import type { PushSubscription } from "../outbound/web-push";
import { log } from "../http/log";
import { IDEMPOTENCY_TTL_MS } from "../http/idempotency";
import { FifoLock } from "./lock";
import { hash16, sha256Hex } from "../crypto/hash";
import type { ReversalInput, ReversalReport } from "../engine/reversal";
import { confirmReservations, releaseReservation, reserve, restockReservation } from "../rewards/inventory";
import { programmeFor } from "./programme-cache";
import { directoryChanged, directoryEntryOf, type DirectoryEntry, type DirectoryUpdate } from "../directory/entry";
import { UserStorage, type ActivityEntry, type LedgerEntry, type OutboxQueue, type RedemptionRow } from "./storage";
import { faultArmed, injectFault, injectStartFault, reservationDb } from "../testing/faults";

// One object per (space, user): the single writer of that user's loyalty state (SPEC
// §1.2). It is thin: it loads state, asks the pure engine, and stores the result — state,
// ledger entries, the seen event id, the activity entry and the outbox — in one
// transactionSync, then hands the outbox to the Queue. RPC methods answer result objects
// rather than throwing (a rejected RPC is awkward for callers and for the test pool).

export { MIGRATIONS } from "./storage";

/** Durable Object names: the space's immutable id and the user id, unambiguously. */
export function userObjectName(spaceId: string, userId: string): string {
  return JSON.stringify([spaceId, userId]);
}

export interface IngestRequest {
  spaceId: string;
  userId: string;
  event: RootEvent;
  /** Hash of the event id (compact idempotency key) and of the client's body as sent. */
  idHash: string;
  bodyHash: string;
  dryRun: boolean;
  explain: boolean;
  definitionsTtlMs: number;
  /** From the ingest queue: dropped if it occurred before the user's erasure (SPEC §7). */
  async?: boolean;
}

export interface AdminRequest {
  spaceId: string;
  userId: string;
  /** Names the derived events of this operation (`adm_…#1`). */
  opId: string;
  op: AdminOp;
  definitionsTtlMs: number;
  /** The request's Idempotency-Key and fingerprint (SPEC §5.1): answers are stored 24 h. */
  idempotency?: { key: string; fingerprint: string };
}

export type AdminResult =
  | { kind: "applied"; result: Record<string, unknown>; outcome: Outcome; replayed?: boolean }
  | { kind: "refused"; code: string; detail: string; path: string; replayed?: boolean }
  | { kind: "idempotency_key_reused" }
  | { kind: "idempotency_in_progress" }
  | { kind: "error"; message: string };

/** Refusals that are a business decision, stored for replay like a success (not 400/404). */
const REPLAYABLE_REFUSALS = new Set([
  "insufficient_balance",
  "above_max",
  "per_user_limit",
  "frozen",
  "invalid_transition",
  "out_of_stock",
  "out_of_codes",
  "not_redeemable",
]);

export interface RecomputeRequest {
  spaceId: string;
  userId: string;
  /** The job asking: a user is recomputed once per job, however often the page is redelivered. */
  jobId: string;
  /** false: no webhooks or pushes for what the recompute changes (a backfill). */
  notify: boolean;
  definitionsTtlMs: number;
}

export type RecomputeResult = { kind: "changed" | "unchanged" | "skipped" } | { kind: "error"; message: string };

/**
 * An event's outcome travels as its JSON text: the object serialises it once (it needs the
 * text for the activity log anyway) and the Worker writes it into the answer as it is.
 * As an object it was structured-cloned out of the object, cloned in, and stringified
 * again: about a tenth of a hot user's event in the HTTP bench (callgrind).
 */
export type IngestResult =
  | { kind: "applied"; outcomeJson: string }
  | { kind: "duplicate"; outcomeJson: string | null }
  | { kind: "id_reused" }
  | { kind: "dropped" }
  | { kind: "error"; message: string };

/** Event type that makes a test build fail mid-transaction (only with TEST_FAULT_INJECTION). */
export const FAULT_EVENT_TYPE = "test.fault";
const OUTBOX_RETRY_MS = 10_000;
/** Activity past its retention goes within this long (SPEC §5.7 keeps it for days). */
const ACTIVITY_PRUNE_EVERY_MS = 60_000;
/** Streak timers fire within a minute after their due time (the end of the grace window). */
const TIMER_JITTER_MS = 60_000;
const OUTBOX_BATCH_BYTES = 200_000;
const MAX_PUSH_SUBSCRIPTIONS = 10;
/** Rounds of plan → reserve → evaluate for one run (SPEC §4.2). */
const MAX_RESERVATION_ROUNDS = 3;
/** Pending reservations left after a crash are settled by the alarm this much later. */
const RESERVATION_SWEEP_MS = 30_000;

/** A reservation's id: from the space, the user and the take's key (source and effect), so a retry finds it. */
async function reservationIdOf(spaceId: string, userId: string, key: string): Promise<string> {
  return `rsv_${(await sha256Hex(JSON.stringify([spaceId, userId, key]))).slice(0, 40)}`;
}
/** Job ids a user's object remembers as done: far more than can run at once. */
const JOBS_REMEMBERED = 32;

export class UserState extends DurableObject<Env> {
  protected readonly lock = new FifoLock();
  /** Idempotency-Keys of admin operations waiting for or holding the lock. */
  private readonly keysInFlight = new Set<string>();
  private readonly storage: UserStorage;
  /** Whether meta already names this object's space and user (written with its first commit). */
  private identityRecorded = false;
  /**
   * Whether this run of the object has set the alarm to the earliest timer. Every change of
   * a timer is followed by syncAlarm, so after the first one a commit that moved no timer
   * need not compare them again; a run that crashed in between starts with false.
   */
  private alarmSynced = false;
  /** When this run of the object last pruned activity (commit). */
  private activityPrunedAt = -Infinity;
  /** Memory is only a cache of storage (SPEC STYLE): dropped whenever a write fails. */
  private cached: UserStateDocument | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.storage = new UserStorage(ctx.storage.sql);
    ctx.blockConcurrencyWhile(async () => {
      this.storage.migrate((fn) => ctx.storage.transactionSync(fn));
      injectStartFault(env, ctx.storage.sql, ctx.id.toString()); // test-only (src/testing/faults.ts)
    });
  }

  async schemaVersion(): Promise<number> {
    return this.storage.schemaVersion();
  }

  /**
   * Applies events exactly once each, in order (SPEC §5.1, §5.2): one user's part of a
   * request or of an ingest-queue message, under one hold of the lock.
   */
  async ingestBatch(requests: IngestRequest[]): Promise<IngestResult[]> {
    return this.lock.run(async () => {
      const results: IngestResult[] = [];
      for (const request of requests) {
        try {
          results.push(await this.ingestLocked(request));
        } catch (error) {
          this.cached = undefined;
          log(this.env, "error", "user.ingest_failed", { userId: request.userId, eventId: request.event.id, error: String(error) });
          results.push({ kind: "error", message: "evaluation failed" });
        }
      }
      return results;
    });
  }

  private async ingestLocked(request: IngestRequest): Promise<IngestResult> {
    if (request.async) {
      const erasedAt = this.storage.meta("tokensNotBefore");
      if (erasedAt && Date.parse(request.event.occurredAt) < Number(erasedAt)) {
        return { kind: "dropped" }; // queued before an erasure: it belongs to the erased user
      }
    }
    const seen = this.storage.seenEvent(request.idHash, request.bodyHash);
    if (seen) {
      if (!seen.sameBody) return { kind: "id_reused" };
      return { kind: "duplicate", outcomeJson: this.storage.outcomeJsonOf(request.event.id) };
    }
    // Everything asynchronous happens before the transaction; its results are inputs.
    const programme = await programmeFor(this.env, request.spaceId, request.definitionsTtlMs);
    const now = Date.now();
    const state = this.cached ?? this.storage.stateOrEmpty(request.userId);
    const identity = { spaceId: request.spaceId, userId: request.userId };
    const evaluate = (reservations?: ReadonlyMap<string, ReservationAnswer>) =>
      applyEvent(programme, state, request.event, { now, explain: request.explain, reservations });
    // A dry run never reserves (SPEC §4.2): its outcome assumes stock and codes suffice.
    if (request.dryRun) return { kind: "applied", outcomeJson: JSON.stringify(evaluate().outcome) };
    const { result, reserved } = await this.evaluateReserving(identity, evaluate, now);
    const outcomeJson = JSON.stringify(result.outcome);

    await this.commitReserving(programme, result, reserved, now, identity, () => {
      // Test-only (src/testing/faults.ts): a storage failure after the state and ledger rows
      // were written and before the outbox rows, so a test sees the whole event roll back.
      if (this.env.TEST_FAULT_INJECTION === "on" && (request.event.type === FAULT_EVENT_TYPE || faultArmed(this.env, this.ctx.storage.sql, "do.transaction"))) {
        throw new Error("injected fault inside the event transaction");
      }
      this.storage.recordSeen(request.idHash, request.bodyHash);
      this.storage.recordActivity(request.event.id, request.event.type, request.event.occurredAt, now, outcomeJson);
    });
    return { kind: "applied", outcomeJson };
  }

  /**
   * Evaluates with the stock and codes its takes need (SPEC §4.2): a planning run says what
   * it would take; those are reserved in D1 (each recorded as pending here first, so a crash
   * leaves a trace the alarm repairs); the run is repeated with the answers. A cascade that
   * changes with the answers may ask for more: at most three rounds, after which an
   * unforeseen take fails as `not_reserved`. Returns the result and key → reservation id.
   */
  private async evaluateReserving(
    identity: { spaceId: string; userId: string },
    evaluate: (reservations?: ReadonlyMap<string, ReservationAnswer>) => EvaluationResult,
    now: number,
  ): Promise<{ result: EvaluationResult; reserved: Map<string, string> }> {
    let result = evaluate();
    const answers = new Map<string, ReservationAnswer>();
    const reserved = new Map<string, string>();
    let round = 0;
    for (; round < MAX_RESERVATION_ROUNDS && result.needs.length > 0; round++) {
      // Takes an earlier attempt left pending (D1 took them but answered an error, so they
      // were never applied) are settled first: under the lock nothing else is between
      // reserving and committing, so this is what the alarm would do. Otherwise their hold
      // makes this attempt out_of_stock until the alarm runs, and a redemption retried with
      // the same Idempotency-Key would store that refusal for good.
      if (round === 0 && this.storage.pendingReservations().length > 0) await this.settleReservations();
      const needs = result.needs.filter((n) => !answers.has(n.key));
      const ids = await Promise.all(needs.map((n) => reservationIdOf(identity.spaceId, identity.userId, n.key)));
      this.storage.addPendingReservations(ids, now);
      this.storage.setTimer("reservations", now + RESERVATION_SWEEP_MS);
      await this.syncAlarm();
      try {
        for (const [i, need] of needs.entries()) {
          // env.DB unless a test armed a D1 fault (src/testing/faults.ts).
          const db = reservationDb(this.env, this.ctx.storage.sql);
          const answer = await reserve(db, { id: ids[i]!, ...identity, productId: need.product, quantity: need.quantity }, now);
          answers.set(need.key, answer);
          if ("id" in answer) reserved.set(need.key, answer.id);
          else this.storage.removePendingReservations([ids[i]!]); // nothing was taken
        }
      } catch (error) {
        await this.abandonReservations([...reserved.values()]);
        throw error;
      }
      result = evaluate(answers);
    }
    // All refused: nothing to watch. (No round, as for most events: nothing was recorded.)
    if (round > 0 && reserved.size === 0) await this.refreshReservationTimer();
    return { result, reserved };
  }

  /**
   * commit() for a result that may hold reservations: records which it applied (and the
   * redemptions it made) in the same transaction, then confirms those in D1 and releases
   * the rest; if the transaction fails, releases them all.
   */
  private async commitReserving(
    programme: Programme,
    result: EvaluationResult,
    reserved: Map<string, string>,
    now: number,
    identity: { spaceId: string; userId: string },
    extra: () => void,
  ): Promise<void> {
    const used = result.used.map((key) => reserved.get(key)!).filter((id) => id !== undefined);
    try {
      await this.commit(programme, result, now, identity, () => {
        extra();
        this.storage.recordAppliedReservations(used, now);
        for (const r of result.redemptions) {
          const reservationId = r.reservationKey ? (reserved.get(r.reservationKey) ?? null) : null;
          this.storage.recordRedemption({ ...r, reservationId, status: "completed", createdAt: now });
        }
      });
    } catch (error) {
      await this.abandonReservations([...reserved.values()]);
      throw error;
    }
    if (reserved.size > 0) await this.settleReservations();
  }

  /** Releases reservations whose take was not committed; best effort (the alarm retries). */
  private async abandonReservations(ids: string[]): Promise<void> {
    try {
      for (const id of ids) await releaseReservation(this.env.DB, id, Date.now());
      this.storage.removePendingReservations(ids);
    } catch (error) {
      log(this.env, "warn", "user.release_failed", { error: String(error) });
    }
    await this.refreshReservationTimer();
  }

  /** The sweep timer runs while (and only while) reservations are pending. */
  private async refreshReservationTimer(): Promise<void> {
    const pending = this.storage.pendingReservations().length > 0;
    if (pending !== (this.storage.timer("reservations") !== null)) {
      this.storage.setTimer("reservations", pending ? Date.now() + RESERVATION_SWEEP_MS : null);
    }
    await this.syncAlarm(); // writes the alarm only if the earliest timer moved
  }

  /**
   * Pending reservations are settled by what this object stored — never blind: applied
   * ones are confirmed in D1, the others released. Run after commits and by the alarm
   * (under the lock, so nothing is between reserving and committing then).
   */
  private async settleReservations(): Promise<void> {
    const pending = this.storage.pendingReservations();
    try {
      // Test-only: D1 unreachable while settling (the alarm must finish the job later).
      injectFault(this.env, this.ctx.storage.sql, "d1.settle");
      const applied = pending.filter((id) => this.storage.reservationApplied(id));
      await confirmReservations(this.env.DB, applied, Date.now());
      this.storage.removePendingReservations(applied);
      for (const id of pending.filter((p) => !applied.includes(p))) {
        await releaseReservation(this.env.DB, id, Date.now());
        this.storage.removePendingReservations([id]);
      }
    } catch (error) {
      log(this.env, "warn", "user.reservation_settle_failed", { error: String(error), pending: pending.length });
    }
    // Still pending (D1 unreachable): try again a little later.
    this.storage.setTimer("reservations", null);
    await this.refreshReservationTimer();
  }

  /**
   * Stores one run's result in one transaction: the state, its ledger entries, its outbox
   * rows (with a directory update when the directory's view of the user changed), what the
   * caller adds (`extra`: seen id, activity), the streak timer and the object's identity;
   * then sets the alarm to the earliest timer and hands the outbox to the queues.
   */
  private async commit(
    programme: Programme,
    result: EvaluationResult,
    now: number,
    identity: { spaceId: string; userId: string },
    extra: () => void,
  ): Promise<void> {
    const at = new Date(now).toISOString();
    let enqueued = result.outbox.length > 0;
    let pruned = false;
    let timerMoved = false;
    this.ctx.storage.transactionSync(() => {
      this.storage.saveState(result.state, result.campaignChanges);
      if (!this.identityRecorded) {
        this.storage.setMeta("spaceId", identity.spaceId);
        this.storage.setMeta("userId", identity.userId);
      }
      this.storage.appendLedger(result.ledger, at);
      extra();
      this.storage.enqueueOutbox(result.outbox, now);
      if (this.enqueueDirectoryUpdate(identity, result.state, now)) enqueued = true;
      // Streak settlement once the grace window has passed (never earlier: the period could
      // not be settled yet), plus up to a minute of jitter so users do not all wake at once.
      const due = nextStreakTimer(programme, result.state, now);
      const streakTimer = due === null ? null : due + this.timerJitter();
      timerMoved = streakTimer !== this.storage.timer("streaks");
      if (timerMoved) this.storage.setTimer("streaks", streakTimer);
      // Bounded retention (SPEC §5.7), checked at most once a minute per run of the object:
      // the statement costs little when nothing expired, but it ran on every event.
      if (Math.abs(now - this.activityPrunedAt) >= ACTIVITY_PRUNE_EVERY_MS) {
        this.storage.pruneActivity(now, configOf(this.env).activityRetentionMs);
        pruned = true;
      }
    });
    // The stored rows now hold the changes; the cached map takes them in place.
    this.cached = adoptCampaignChanges(result);
    this.identityRecorded = true;
    if (pruned) this.activityPrunedAt = now;
    // The alarm follows the earliest timer: only the streak timer can have moved here.
    if (timerMoved || !this.alarmSynced) await this.syncAlarm();
    if (enqueued) await this.flushOutbox();
  }

  /**
   * Queues a directory update (SPEC §5.8) when what the directory shows of the user
   * changed; inside the commit's transaction, so an update is never lost or sent for a
   * state that was not stored. Returns whether one was queued.
   */
  private enqueueDirectoryUpdate(identity: { spaceId: string; userId: string }, state: UserStateDocument, now: number): boolean {
    const entry = directoryEntryOf(state);
    const sent = this.storage.meta("directory");
    if (!directoryChanged(sent ? (JSON.parse(sent) as DirectoryEntry) : undefined, entry)) return false;
    const revision = Number(this.storage.meta("directoryRevision") ?? "0") + 1;
    const update: DirectoryUpdate = { ...identity, generation: this.generation(), revision, ...entry };
    this.storage.setMeta("directoryRevision", String(revision));
    this.storage.setMeta("directory", JSON.stringify(entry));
    this.storage.enqueueOutbox([update], now, "index");
    return true;
  }

  /** 0 until the first erasure; each erasure adds one (SPEC §7). */
  private generation(): number {
    return Number(this.storage.meta("generation") ?? "0");
  }

  /** One alarm per object: set to the earliest timer, or cleared. */
  /**
   * This user's offset for timers (0 to TIMER_JITTER_MS), the same on every event: a new
   * random offset per event moved the alarm, and so rewrote it, on every event.
   */
  private timerJitter(): number {
    let hash = 0;
    for (const char of this.ctx.id.toString().slice(0, 8)) hash = (hash * 16 + parseInt(char, 16)) >>> 0;
    return hash % TIMER_JITTER_MS;
  }

  private async syncAlarm(): Promise<void> {
    this.alarmSynced = false; // until the alarm was written (a failed write leaves it false)
    const due = this.storage.earliestTimer();
    // Most events leave the earliest timer where it was: write the alarm only when it moves.
    if (due !== (await this.ctx.storage.getAlarm())) {
      if (due === null) await this.ctx.storage.deleteAlarm();
      else await this.ctx.storage.setAlarm(due);
    }
    this.alarmSynced = true;
  }

  /**
   * Adjustments, grants, revocations and profile writes (SPEC §7): one transaction each.
   * With an Idempotency-Key, the answer is stored in that transaction and replayed; a
   * duplicate arriving while the first waits for or holds the lock is refused at once.
   */
  async admin(request: AdminRequest): Promise<AdminResult> {
    const key = request.idempotency?.key;
    if (key !== undefined) {
      if (this.keysInFlight.has(key)) return { kind: "idempotency_in_progress" };
      this.keysInFlight.add(key);
    }
    try {
      return await this.lock.run(async () => this.adminLocked(request));
    } finally {
      if (key !== undefined) this.keysInFlight.delete(key);
    }
  }

  private async adminLocked(request: AdminRequest): Promise<AdminResult> {
    const idempotency = request.idempotency;
    if (idempotency) {
      const stored = this.storage.idempotentAnswer(idempotency.key, Date.now() - IDEMPOTENCY_TTL_MS);
      if (stored && stored.fingerprint !== idempotency.fingerprint) return { kind: "idempotency_key_reused" };
      if (stored) return { ...(stored.answer as AdminResult), replayed: true } as AdminResult;
    }
    {
      try {
        const programme = await programmeFor(this.env, request.spaceId, request.definitionsTtlMs);
        const now = Date.now();
        const at = new Date(now).toISOString();
        const state = this.cached ?? this.storage.stateOrEmpty(request.userId);
        const identity = { spaceId: request.spaceId, userId: request.userId };
        if (request.op.op === "reverse") {
          // Idempotent (SPEC §7): a repeat answers what the reversal answered.
          const done = this.storage.reversal(request.op.eventId) as AdminResult | undefined;
          if (done) return done;
          request.op.found = await this.reversalInput(request.op.eventId);
        }
        const cancelling = request.op.op === "cancelRedemption" ? this.storage.redemption(request.op.id) : undefined;
        if (request.op.op === "cancelRedemption" && cancelling) {
          request.op.redemption = { ...cancelling, reservationKey: null };
          request.op.cancelled = cancelling.status === "cancelled";
        }
        // The last evaluation's answer (the closure runs once per reservation round).
        const last: { applied: ReturnType<typeof applyAdminOp> } = { applied: { result: {} } };
        const evaluate = (reservations?: ReadonlyMap<string, ReservationAnswer>) => {
          const run = startRun(programme, state, { id: request.opId, type: `admin.${request.op.op}`, occurredAt: at, data: {}, silent: false }, { now, reservations });
          last.applied = applyAdminOp(run, request.op);
          return finishRun(run);
        };
        const { result, reserved } = await this.evaluateReserving(identity, evaluate, now);
        const applied = last.applied;
        if (applied.refused) {
          // Nothing of it is stored; what it reserved goes back.
          await this.abandonReservations([...reserved.values()]);
          const refusal: AdminResult = { kind: "refused", code: applied.refused, detail: applied.detail, path: applied.path };
          if (idempotency && REPLAYABLE_REFUSALS.has(applied.refused)) {
            this.storage.recordIdempotentAnswer(idempotency.key, idempotency.fingerprint, refusal, now);
          }
          return refusal;
        }
        const answer: AdminResult = { kind: "applied", result: applied.result, outcome: result.outcome };
        if (applied.unchanged) return answer;
        await this.commitReserving(programme, result, reserved, now, identity, () => {
          // Test-only (TEST_FAULT_INJECTION): the operation's transaction fails after stock
          // was taken and the ledger written, so tests see it all roll back and be released.
          if (
            this.env.TEST_FAULT_INJECTION === "on" &&
            (programme.products.get(String((request.op as { product?: string }).product))?.metadata?.testFault === true ||
              faultArmed(this.env, this.ctx.storage.sql, "do.transaction"))
          ) {
            throw new Error("injected fault inside the admin transaction");
          }
          if (request.op.op === "cancelRedemption") this.storage.markRedemptionCancelled(request.op.id, now);
          if (request.op.op === "reverse") {
            for (const id of (applied.result as unknown as ReversalReport).redemptionsCancelled) this.storage.markRedemptionCancelled(id, now);
            this.storage.recordReversal(request.op.eventId, answer, now);
          }
          this.storage.recordActivity(request.opId, `admin.${request.op.op}`, at, now, result.outcome);
          if (idempotency) {
            this.storage.recordIdempotentAnswer(idempotency.key, idempotency.fingerprint, answer, now);
            this.storage.pruneIdempotency(now - IDEMPOTENCY_TTL_MS);
          }
        });
        if (request.op.op === "cancelRedemption" && request.op.restock && cancelling?.reservationId) {
          // After the commit: the stock goes back once (guarded in D1); a failure is logged.
          await restockReservation(this.env.DB, cancelling.reservationId, Date.now()).catch((error) =>
            log(this.env, "error", "user.restock_failed", { redemption: cancelling.id, error: String(error) }),
          );
        }
        return answer;
      } catch (error) {
        this.cached = undefined;
        log(this.env, "error", "user.admin_failed", { userId: request.userId, op: request.op.op, error: String(error) });
        return { kind: "error", message: "the operation failed" };
      }
    }
  }

  /** What this object knows of an event to reverse; undefined if the user never had it. */
  private async reversalInput(eventId: string): Promise<ReversalInput | undefined> {
    if (!this.storage.seenEvent(await hash16(eventId))) return undefined;
    const entries = this.storage.ledgerOfEvent(eventId);
    const redemptionIds = [...new Set(entries.flatMap((e) => (e.redemption !== undefined ? [e.redemption] : [])))];
    const redemptions = redemptionIds.flatMap((id) => {
      const row = this.storage.redemption(id);
      return row ? [{ id, product: row.product, quantity: row.quantity, price: row.price, codes: row.codes, status: row.status }] : [];
    });
    return { eventId, entries, activity: this.storage.activityOf(eventId), redemptions };
  }

  /**
   * Erasure (SPEC §7): every row and the alarm; the object starts empty again. Answers the
   * new generation, which the caller writes to the directory's tombstone.
   */
  async erase(): Promise<number> {
    return this.lock.run(async () => {
      const generation = this.generation();
      // What the user's takes hold in D1 is settled before the record of them goes.
      if (this.storage.pendingReservations().length > 0) await this.settleReservations();
      await this.ctx.storage.deleteAll();
      this.cached = undefined;
      this.identityRecorded = false;
      // deleteAll drops the tables but the constructor does not run again.
      this.storage.migrate((fn) => this.ctx.storage.transactionSync(fn));
      // The tombstone (SPEC §7): tokens issued and async events that occurred before the
      // erasure are refused from now on.
      this.storage.setMeta("generation", String(generation + 1));
      this.storage.setMeta("tokensNotBefore", String(Date.now()));
      return generation + 1;
    });
  }

  /**
   * A background job's visit (SPEC §5.8): re-levels every ladder and re-evaluates every
   * dynamic segment against the current definitions, emitting the derived events a live
   * change would, as a system run (no last sight). Once per job: the job ids done are
   * remembered, so a redelivered page does not process the user twice.
   */
  async recompute(request: RecomputeRequest): Promise<RecomputeResult> {
    return this.lock.run(async () => {
      // [job id, what it did]: a repeated visit answers the same, so the job counts alike.
      const done = JSON.parse(this.storage.meta("jobsDone") ?? "[]") as Array<[string, "changed" | "unchanged"]>;
      const before = done.find(([jobId]) => jobId === request.jobId);
      if (before) return { kind: before[1] };
      const state = this.stored();
      if (!state) return { kind: "skipped" }; // never seen, or erased since the page was read
      try {
        const programme = await programmeFor(this.env, request.spaceId, request.definitionsTtlMs);
        const now = Date.now();
        const at = new Date(now).toISOString();
        const root = { id: request.jobId, type: "job.recompute", occurredAt: at, data: {}, silent: !request.notify };
        const run = startRun(programme, state, root, { now, system: true });
        for (const segmentId of programme.segments.keys()) run.recomputeSegment(segmentId, { event: run.root });
        const result = finishRun(run);
        const changed = result.derived.length > 0;
        await this.commit(programme, result, now, { spaceId: request.spaceId, userId: request.userId }, () => {
          if (changed) this.storage.recordActivity(request.jobId, root.type, at, now, result.outcome);
          this.storage.setMeta("jobsDone", JSON.stringify([...done, [request.jobId, changed ? "changed" : "unchanged"]].slice(-JOBS_REMEMBERED)));
        });
        return { kind: changed ? "changed" : "unchanged" };
      } catch (error) {
        this.cached = undefined;
        log(this.env, "error", "user.recompute_failed", { userId: request.userId, jobId: request.jobId, error: String(error) });
        return { kind: "error", message: "the recompute failed; nothing was stored" };
      }
    });
  }

  /** What a read needs: the state (null for a user never seen) and the erasure tombstone. */
  async snapshot(): Promise<{ state: UserStateDocument | null; tokensNotBefore: number | null }> {
    const tokensNotBefore = this.storage.meta("tokensNotBefore");
    return { state: this.stored() ?? null, tokensNotBefore: tokensNotBefore ? Number(tokensNotBefore) : null };
  }

  /**
   * The stored state, kept in memory once loaded: an object woken by a read (after ten
   * seconds idle the runtime evicts it) is often read again, and loading parses the state
   * document and every campaign row. Reads do not take the lock, which is safe: what they
   * load is what storage holds, and a write that fails drops the copy.
   */
  private stored(): UserStateDocument | undefined {
    return (this.cached ??= this.storage.loadState());
  }

  /**
   * Hands pending outbox rows to their queues (webhooks and pushes to deliveries, directory
   * updates to index), each queue on its own so one being down does not hold up the other;
   * whatever fails waits for the alarm.
   */
  private async flushOutbox(): Promise<void> {
    if (this.storage.pendingOutbox(1).length === 0) return;
    const spaceId = this.storage.spaceId();
    let failed = false;
    for (const queue of ["deliveries", "index"] as const) {
      try {
        // Pages of ≤ 100 rows (a Queue batch's count limit) until the queue's rows are gone.
        for (let rows = this.storage.pendingOutbox(100, queue); rows.length > 0; rows = this.storage.pendingOutbox(100, queue)) {
          await this.sendOutboxRows(queue, rows, spaceId);
        }
      } catch (error) {
        failed = true;
        log(this.env, "warn", "user.outbox_send_failed", { queue, error: String(error) });
      }
    }
    this.storage.setTimer("outbox", failed ? Date.now() + OUTBOX_RETRY_MS : null);
    await this.syncAlarm();
  }

  private async sendOutboxRows(queue: OutboxQueue, rows: Array<{ id: number; message: unknown }>, spaceId: string | undefined): Promise<void> {
    const target = queue === "index" ? this.env.INDEX : this.env.DELIVERIES;
    const userId = this.storage.meta("userId");
    // Deliveries carry the user's generation: one still queued when the user is erased is dropped (SPEC §7).
    const generation = this.generation();
    const subscriptions = this.storage.pushSubscriptions();
    const messages = rows.flatMap(({ id, message }) => {
      const key = `${this.ctx.id.toString()}:${id}`;
      const sized = (body: unknown) => ({ id, body, bytes: 2 * JSON.stringify(body).length });
      if (queue === "index") return [sized({ v: 1, type: "directory", key, body: message })];
      const outbound = message as OutboxMessage;
      // A Web Push goes to each of the user's subscriptions as its own delivery (own
      // retries, own removal on 404/410); a gateway push is one delivery.
      if (outbound.kind === "push" && !outbound.gateway) {
        return subscriptions.map((subscription, i) =>
          sized({ v: 1, type: "delivery", key: `${key}:${i}`, body: { spaceId, userId, generation, message, subscription } }),
        );
      }
      // Estimated at 2 bytes a character (the queue's serialisation of non-Latin-1 text).
      return [sized({ v: 1, type: "delivery", key, body: { spaceId, userId, generation, message } })];
    });
    // Test-only: the queue refuses the send (rows stay; the alarm re-sends them).
    injectFault(this.env, this.ctx.storage.sql, queue === "index" ? "queue.index" : "queue.deliveries");
    // A Queue batch holds ≤ 100 messages (pendingOutbox's page) and ≤ 256 KB: one
    // oversized batch would fail on every retry and block the outbox for good.
    for (let start = 0; start < messages.length; ) {
      let end = start + 1;
      let bytes = messages[start]!.bytes;
      while (end < messages.length && bytes + messages[end]!.bytes <= OUTBOX_BATCH_BYTES) bytes += messages[end++]!.bytes;
      await target.sendBatch(messages.slice(start, end).map(({ body }) => ({ body })));
      start = end;
    }
    // Only once every message of the page is queued (at least once: a page that failed
    // halfway is sent again, and receivers dedupe by webhook-id). Pushes to a user without
    // subscriptions had nothing to send.
    this.storage.removeOutbox(rows.map((r) => r.id));
  }

  /** Re-sends what the outbox kept, and settles streaks whose period ended (SPEC §4.5). */
  override async alarm(): Promise<void> {
    await this.lock.run(async () => {
      const now = Date.now();
      await this.flushOutbox();
      if (this.storage.pendingReservations().length > 0) await this.settleReservations();
      else await this.refreshReservationTimer();
      const due = this.storage.timer("streaks");
      const spaceId = this.storage.spaceId();
      const state = this.stored();
      if (due !== null && due <= now && spaceId && state) {
        try {
          await this.settleStreaks(spaceId, state, now);
        } catch (error) {
          // Nothing was stored; try again a little later rather than lose the settlement.
          this.cached = undefined;
          log(this.env, "error", "user.settlement_failed", { error: String(error) });
          this.storage.setTimer("streaks", now + OUTBOX_RETRY_MS);
        }
      }
      await this.syncAlarm();
    });
  }

  private async settleStreaks(spaceId: string, state: UserStateDocument, now: number): Promise<void> {
    const programme = await programmeFor(this.env, spaceId, configOf(this.env).definitionsTtlMs);
    const at = new Date(now).toISOString();
    const rootId = `tmr_${now}`;
    const run = startRun(programme, state, { id: rootId, type: "timer.streaks", occurredAt: at, data: {}, silent: false }, { now, system: true });
    settleAllStreaks(run);
    const result = finishRun(run);
    await this.commit(programme, result, now, { spaceId, userId: state.userId }, () => {
      if (result.derived.length > 0) this.storage.recordActivity(rootId, "timer.streaks", at, now, result.outcome);
    });
  }

  /** The user's state, or null for a user never seen (reads never create a user). */
  async getState(): Promise<UserStateDocument | null> {
    return this.stored() ?? null;
  }

  async ledger(metric: string, limit: number, before?: number): Promise<LedgerEntry[]> {
    return this.storage.ledger(metric, limit, before);
  }

  async activity(limit: number, before?: number): Promise<ActivityEntry[]> {
    return this.storage.activity(limit, before);
  }

  /** Test and operator check of the ledger invariant: balance = sum of entries. */
  async ledgerSum(metric: string): Promise<number> {
    return this.storage.ledgerSum(metric);
  }

  /** Web Push subscriptions (SPEC §8.2): ≤ 10 per user; touches no loyalty state. */
  async putPushSubscription(request: { spaceId: string; userId: string; subscription: PushSubscription }): Promise<"created" | "replaced" | "limit"> {
    return this.lock.run(async () => {
      if (!this.identityRecorded && !this.storage.spaceId()) {
        this.storage.setMeta("spaceId", request.spaceId);
        this.storage.setMeta("userId", request.userId);
      }
      return this.storage.putPushSubscription(request.subscription, MAX_PUSH_SUBSCRIPTIONS, Date.now());
    });
  }

  async deletePushSubscription(endpoint: string): Promise<boolean> {
    return this.lock.run(async () => this.storage.deletePushSubscription(endpoint));
  }

  async pushSubscriptions(): Promise<PushSubscription[]> {
    return this.storage.pushSubscriptions();
  }

  /** A redemption this user made (SPEC §7), or null. */
  async redemption(id: string): Promise<RedemptionRow | null> {
    return this.storage.redemption(id) ?? null;
  }

  async outboxSize(): Promise<number> {
    return this.storage.pendingOutbox(1000).length;
  }
}
