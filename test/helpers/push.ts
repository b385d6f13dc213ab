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
