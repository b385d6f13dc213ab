import type { Admin } from "./users-api";

/**
 * The push tests' programme: a points metric and a campaign that credits 10 and sends a
 * templated push on every `order` (`effect` overrides the push.send's fields).
 */
export async function defineOrderPush(admin: Admin, effect: Record<string, unknown> = {}): Promise<void> {
  await admin.define("metrics", "points", { name: "Points", kind: "currency" });
  await admin.define("campaigns", "order-push", {
    name: "Order push",
    status: "active",
    repeat: { limit: null },
    steps: [
      {
        id: "order",
        name: "Order",
        trigger: { eventType: "order" },
        effects: [
          { type: "metric.add", metric: "points", amount: 10 },
          {
            type: "push.send",
            title: "Thanks {{user.id}}",
            body: "+{{effects.metric.points}} points from {{campaign.name}}",
            url: "https://shop.example/orders/{{event.data.order}}",
            data: { order: "{{event.data.order}}", amount: "{{event.data.amount}}", note: "for {{user.id}}" },
            ...effect,
          },
        ],
      },
    ],
  });
}

/** The push.send effect's report in an event's outcome. */
export const pushEffect = (outcome: any) => (outcome.effects as Array<{ type: string }>).find((e) => e.type === "push.send");

// A Web Push subscription as a browser makes one: a fresh P-256 public key and 16 random
// bytes of authentication secret, both base64url (SPEC §8.2).

const b64url = (bytes: ArrayBuffer | Uint8Array) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

export async function browserSubscription(endpoint: string): Promise<{ endpoint: string; keys: { p256dh: string; auth: string } }> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  return {
    endpoint,
    keys: { p256dh: b64url((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer), auth: b64url(crypto.getRandomValues(new Uint8Array(16))) },
  };
}
