// Server-generated identifiers: a kind prefix, 10 characters of time and 16 of
// randomness (Crockford base32, like ULID), so ids sort by creation and lists keyed by
// id come out oldest first without a second index.

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

export type IdPrefix = "spc" | "key" | "cmp" | "met" | "prd" | "seg" | "lad" | "stk" | "trg" | "whk" | "req" | "job" | "stp" | "adm" | "rdm";

export function newId(prefix: IdPrefix, now = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let random = "";
  for (const b of bytes) random += ALPHABET[b % 32];
  return `${prefix}_${time}${random}`;
}

/** base64url without padding, for secrets and opaque cursors. */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(text: string): Uint8Array {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const binary = atob(padded);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function randomSecret(prefix: string, bytes = 32): string {
  return prefix + base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}
