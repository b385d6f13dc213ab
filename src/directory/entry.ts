import { userSegments } from "../engine/conditions";
import type { UserState } from "../engine/types";

// What the D1 user directory knows about a user (SPEC §5.8), as the user's Durable Object
// computes it after each commit. The object sends an update only when this changes, so
// the index queue carries membership changes and first sights, not every event: the last
// sight is refreshed at most once an hour (the directory's `lastSeenAt` is approximate).

export interface DirectoryEntry {
  createdAt: string | null;
  lastSeenAt: string | null;
  /** Every segment the user belongs to, static and dynamic, sorted. */
  segments: string[];
}

/** The message the index queue carries: an entry plus what orders it (SPEC §5.8). */
export interface DirectoryUpdate extends DirectoryEntry {
  spaceId: string;
  userId: string;
  /** Bumped by each erasure: an update from before one can never resurrect the user. */
  generation: number;
  /** Per user and generation, increasing: a late update never undoes a newer one. */
  revision: number;
}

export const LAST_SEEN_REFRESH_MS = 3_600_000;

export function directoryEntryOf(state: UserState): DirectoryEntry {
  return { createdAt: state.createdAt, lastSeenAt: state.lastSeenAt, segments: [...userSegments(state)].sort() };
}

/** Whether `next` says something the directory does not know yet (previous = last sent). */
export function directoryChanged(previous: DirectoryEntry | undefined, next: DirectoryEntry): boolean {
  if (next.createdAt === null) return false; // a user never seen is not in the directory
  if (!previous) return true;
  if (previous.createdAt !== next.createdAt) return true;
  if (previous.segments.join("\n") !== next.segments.join("\n")) return true;
  const before = previous.lastSeenAt ? Date.parse(previous.lastSeenAt) : 0;
  const after = next.lastSeenAt ? Date.parse(next.lastSeenAt) : 0;
  return after - before >= LAST_SEEN_REFRESH_MS;
}
