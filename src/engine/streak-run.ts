import type { Run } from "./run";
import { checkin, newStreakState, nextSettlement, restore, settle, settlementPeriod, streakZone, type StreakChange, type StreakState } from "./streaks";
import type { Programme, UserState } from "./types";

// Streaks inside a run: the effects (`streak.checkin`, `streak.freeze`), the alarm's
// settlement, the admin restore. Their changes become derived events like any other
// state change (SPEC §5.6), so campaigns and webhooks react to them.

export function zoneOfStreak(programme: Programme, state: UserState, streakId: string): string {
  return streakZone(programme.streaks.get(streakId)!, state.timezone, programme.spaceTimezone);
}

/** The user's state of a streak, created (with `freezes.initial`) on first touch. */
export function touchStreak(run: Run, streakId: string): StreakState {
  run.state.streaks ??= {};
  let held = run.state.streaks[streakId];
  if (!held) {
    held = newStreakState(run.programme.streaks.get(streakId)!);
    run.state.streaks[streakId] = held;
  }
  return held;
}

function emitAll(run: Run, streakId: string, changes: StreakChange[], depth: number): void {
  for (const change of changes) run.emit(change.type, change.data, depth);
  if (changes.length > 0) run.stateChanged(`streaks.${streakId}`, { event: run.root });
}

export function checkinEffect(run: Run, streakId: string, instant: number, depth: number) {
  const streak = run.programme.streaks.get(streakId);
  if (!streak) return { status: "failed" as const, reason: "unknown_streak", streak: streakId };
  const held = touchStreak(run, streakId);
  const { result, changes } = checkin(streakId, streak, held, instant, zoneOfStreak(run.programme, run.state, streakId));
  emitAll(run, streakId, changes, depth);
  if (result === "late" || result === "same_period") {
    return { status: "skipped" as const, reason: result, streak: streakId, current: held.current };
  }
  return { status: "applied" as const, streak: streakId, current: held.current, longest: held.longest };
}

export function freezeEffect(run: Run, streakId: string, count: number) {
  const streak = run.programme.streaks.get(streakId);
  if (!streak) return { status: "failed" as const, reason: "unknown_streak", streak: streakId };
  const held = touchStreak(run, streakId);
  if (held.freezes >= streak.freezes.max) return { status: "skipped" as const, reason: "freeze_cap", streak: streakId, freezes: held.freezes };
  const granted = Math.min(count, streak.freezes.max - held.freezes);
  held.freezes += granted;
  run.stateChanged(`streaks.${streakId}`, { event: run.root });
  return { status: "applied" as const, streak: streakId, count: granted, ...(granted !== count ? { requested: count } : {}), freezes: held.freezes };
}

/** The alarm's work: settle every streak as of now − grace (freezes used, breaks). */
export function settleAllStreaks(run: Run): void {
  for (const [streakId, held] of Object.entries(run.state.streaks ?? {})) {
    const streak = run.programme.streaks.get(streakId);
    if (!streak) continue;
    const zone = zoneOfStreak(run.programme, run.state, streakId);
    emitAll(run, streakId, settle(streakId, streak, held, settlementPeriod(streak, held, run.now, zone)), 0);
  }
}

export function restoreStreak(run: Run, streakId: string): boolean {
  const streak = run.programme.streaks.get(streakId);
  const held = run.state.streaks?.[streakId];
  if (!streak || !held) return false;
  const changes = restore(streakId, streak, held, run.now, zoneOfStreak(run.programme, run.state, streakId));
  if (!changes) return false;
  emitAll(run, streakId, changes, 0);
  return true;
}

/** When the object's alarm must next settle streaks (null: no live streak). */
export function nextStreakTimer(programme: Programme, state: UserState, now: number): number | null {
  let next: number | null = null;
  for (const [streakId, held] of Object.entries(state.streaks ?? {})) {
    const streak = programme.streaks.get(streakId);
    if (!streak) continue;
    const due = nextSettlement(streak, held, now, zoneOfStreak(programme, state, streakId));
    if (due !== null && (next === null || due < next)) next = due;
  }
  return next;
}
