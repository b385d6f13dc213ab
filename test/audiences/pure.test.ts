import { describe, expect, it } from "vitest";
import { directoryChanged, directoryEntryOf, LAST_SEEN_REFRESH_MS, type DirectoryEntry } from "../../src/directory/entry";
import { emptyUserState } from "../../src/engine/types";
import { needsRecompute } from "../../src/jobs/recompute";

// The pure decisions behind the directory and the jobs (SPEC §5.8): when a user's object
// sends a directory update, and which definition changes recompute every user.

const T0 = "2026-11-01T10:00:00.000Z";
const later = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();
const entry = (over: Partial<DirectoryEntry> = {}): DirectoryEntry => ({ createdAt: T0, lastSeenAt: T0, segments: ["a"], ...over });

describe("directoryEntryOf", () => {
  it("lists static and dynamic memberships once each, sorted", () => {
    const state = { ...emptyUserState("u1"), createdAt: T0, lastSeenAt: T0, staticSegments: ["z", "b"], dynamicSegments: ["b", "a"] };
    expect(directoryEntryOf(state)).toEqual({ createdAt: T0, lastSeenAt: T0, segments: ["a", "b", "z"] });
  });
});

describe("directoryChanged", () => {
  it.each<[string, DirectoryEntry | undefined, DirectoryEntry, boolean]>([
    ["first sight", undefined, entry(), true],
    ["a user never seen (no createdAt) is not sent", undefined, entry({ createdAt: null }), false],
    ["nothing changed", entry(), entry(), false],
    ["a segment entered", entry(), entry({ segments: ["a", "b"] }), true],
    ["a segment left", entry({ segments: ["a", "b"] }), entry(), true],
    ["every segment left", entry(), entry({ segments: [] }), true],
    ["createdAt moved earlier (a late first event)", entry(), entry({ createdAt: later(-60_000) }), true],
    ["seen again a minute later", entry(), entry({ lastSeenAt: later(60_000) }), false],
    ["seen again just under the refresh interval", entry(), entry({ lastSeenAt: later(LAST_SEEN_REFRESH_MS - 1) }), false],
    ["seen again after the refresh interval", entry(), entry({ lastSeenAt: later(LAST_SEEN_REFRESH_MS) }), true],
    ["first last sight", entry({ lastSeenAt: null }), entry({ lastSeenAt: later(LAST_SEEN_REFRESH_MS) }), true],
  ])("%s → %s", (_name, previous, next, changed) => {
    expect(directoryChanged(previous, next)).toBe(changed);
  });
});

const rule = (value: number) => ({ path: "user.metrics.points.balance", op: "gte", value });
const dynamic = (value: number, extra: Record<string, unknown> = {}) => ({ name: "S", description: null, type: "dynamic", rule: rule(value), ...extra });
const ladder = (levels: Array<[string, number, string?]>, extra: Record<string, unknown> = {}) => ({
  name: "L",
  description: null,
  metric: "points",
  basis: "lifetime",
  demotion: false,
  levels: levels.map(([id, threshold, name]) => ({ id, name: name ?? id, threshold })),
  ...extra,
});

describe("needsRecompute", () => {
  it.each<[string, string, Record<string, unknown> | undefined, Record<string, unknown>, boolean]>([
    ["a new dynamic segment", "segments", undefined, dynamic(10), true],
    ["a dynamic segment's rule changed", "segments", dynamic(10), dynamic(20), true],
    ["a dynamic segment renamed", "segments", dynamic(10), dynamic(10, { name: "Other" }), false],
    ["a new static segment", "segments", undefined, { name: "S", description: null, type: "static", rule: null }, false],
    ["a new ladder", "ladders", undefined, ladder([["a", 0], ["b", 100]]), true],
    ["a ladder threshold changed", "ladders", ladder([["a", 0], ["b", 100]]), ladder([["a", 0], ["b", 90]]), true],
    ["a ladder level added", "ladders", ladder([["a", 0]]), ladder([["a", 0], ["b", 100]]), true],
    ["a ladder's basis changed", "ladders", ladder([["a", 0]]), ladder([["a", 0]], { basis: "balance" }), true],
    ["a ladder's demotion changed", "ladders", ladder([["a", 0]]), ladder([["a", 0]], { demotion: true }), true],
    ["a ladder level renamed", "ladders", ladder([["a", 0, "Bronze"]]), ladder([["a", 0, "Copper"]]), false],
    ["a ladder described", "ladders", ladder([["a", 0]]), ladder([["a", 0]], { description: "new" }), false],
    ["a metric", "metrics", undefined, { name: "P", kind: "currency" }, false],
    ["a campaign", "campaigns", undefined, { name: "C", status: "active" }, false],
  ])("%s: %s", (_name, kind, previous, next, expected) => {
    expect(needsRecompute(kind as never, previous, next)).toBe(expected);
  });
});
