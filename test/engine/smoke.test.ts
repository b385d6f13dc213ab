import { describe, expect, it } from "vitest";
import { campaignSchema } from "../../src/definitions/kinds/campaigns";
import { ladderSchema } from "../../src/definitions/kinds/ladders";
import { metricSchema } from "../../src/definitions/kinds/metrics";
import { productSchema } from "../../src/definitions/kinds/products";
import { compileProgramme } from "../../src/engine/compile";
import { applyEvent } from "../../src/engine/evaluate";
import { emptyUserState } from "../../src/engine/types";

describe("engine smoke", () => {
  it("a 2-step sequential challenge with a badge and an XP ladder", () => {
    const programme = compileProgramme(
      [
        { kind: "metrics", id: "xp", body: metricSchema.parse({ name: "XP", kind: "counter" }) },
        { kind: "products", id: "badge", body: productSchema.parse({ name: "B", type: "badge" }) as never },
        { kind: "ladders", id: "tiers", body: ladderSchema.parse({ name: "T", metric: "xp", levels: [{ id: "bronze", name: "B", threshold: 0 }, { id: "silver", name: "S", threshold: 20 }] }) as never },
        {
          kind: "campaigns",
          id: "welcome",
          body: campaignSchema.parse({
            name: "W",
            status: "active",
            steps: [
              { id: "read", name: "r", trigger: { eventType: "read" }, target: 2, effects: [{ type: "metric.add", metric: "xp", amount: 10 }] },
              { id: "buy", name: "b", trigger: { eventType: "buy" }, effects: [{ type: "product.grant", product: "badge" }] },
            ],
          }) as never,
        },
      ],
      { version: 1, spaceTimezone: "UTC" },
    );
    let state = emptyUserState("u1");
    const at = "2026-11-25T10:00:00.000Z";
    const ev = (id: string, type: string) => ({ id, type, occurredAt: at, data: {}, silent: false });
    let r = applyEvent(programme, state, ev("e1", "read"), { now: Date.parse(at) });
    expect(r.outcome.steps).toEqual([{ campaign: "welcome", step: "read", progress: 1, target: 2, completed: false }]);
    state = r.state;
    r = applyEvent(programme, state, ev("e2", "read"), { now: Date.parse(at) });
    expect(r.outcome.steps[0]).toMatchObject({ progress: 2, completed: true });
    expect(r.state.metrics.xp).toEqual({ balance: 10, lifetime: 10 });
    state = r.state;
    r = applyEvent(programme, state, ev("e3", "buy"), { now: Date.parse(at), explain: true });
    expect(r.outcome.campaignsCompleted).toEqual([{ campaign: "welcome", completions: 1 }]);
    expect(r.state.products.badge).toBe(1);
    expect(r.outcome.derivedEvents.map((d) => d.type)).toEqual(["loyalty.product.granted", "loyalty.step.completed", "loyalty.campaign.completed"]);
    state = r.state;
    r = applyEvent(programme, state, ev("e4", "read"), { now: Date.parse(at), explain: true });
    expect(r.outcome.explain).toEqual([{ campaign: "welcome", step: "read", reason: "repeat_exhausted" }]);
  });
});
