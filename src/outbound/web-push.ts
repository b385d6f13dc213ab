import { SignJWT, importJWK, type JWK } from "jose";
import { base64url, fromBase64url } from "../lib/ids";

// Web Push with WebCrypto only (SPEC §8.2): RFC 8291 message encryption (`aes128gcm`,
// one record) and RFC 8292 VAPID (an ES256 JWT for the push service's origin).

const encoder = new TextEncoder();
/** One record holds the whole message: RFC 8291 caps a push message at 4096 bytes. */
const RECORD_SIZE = 4096;
export const MAX_PUSH_PAYLOAD_BYTES = RECORD_SIZE - 16 /* tag */ - 1 /* delimiter */ - 86 /* header */;

export interface PushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

async function hkdf(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, bytes: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, bytes * 8));
}

/**
 * Encrypts `payload` for a subscription (RFC 8291 §3–4): an ephemeral ECDH key, the
 * subscription's auth secret, HKDF to a content key and nonce, one AES-128-GCM record.
 */
export async function encryptPush(subscription: PushSubscription, payload: Uint8Array): Promise<Uint8Array> {
  const uaPublic = fromBase64url(subscription.keys.p256dh);
  const authSecret = fromBase64url(subscription.keys.auth);
  const ephemeral = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  const asPublic = new Uint8Array((await crypto.subtle.exportKey("raw", ephemeral.publicKey)) as ArrayBuffer);
  const uaKey = await crypto.subtle.importKey("raw", uaPublic, { name: "ECDH", namedCurve: "P-256" }, false, []);
  // workerd's types name the ECDH parameter `$public`; the standard name is `public`.
  const ecdhSecret = new Uint8Array(
    await crypto.subtle.deriveBits({ name: "ECDH", public: uaKey } as unknown as SubtleCryptoDeriveKeyAlgorithm, ephemeral.privateKey, 256),
  );
  const keyInfo = concat(encoder.encode("WebPush: info\0"), uaPublic, asPublic);
  const ikm = await hkdf(authSecret, ecdhSecret, keyInfo, 32);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const cek = await hkdf(salt, ikm, encoder.encode("Content-Encoding: aes128gcm\0"), 16);
  const nonce = await hkdf(salt, ikm, encoder.encode("Content-Encoding: nonce\0"), 12);
  const key = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["encrypt"]);
  // The last (only) record ends with the delimiter 0x02 and no padding.
  const cipher = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, key, concat(payload, new Uint8Array([2]))));
  const header = new Uint8Array(16 + 4 + 1 + asPublic.byteLength);
  header.set(salt, 0);
  new DataView(header.buffer).setUint32(16, RECORD_SIZE);
  header[20] = asPublic.byteLength;
  header.set(asPublic, 21);
  return concat(header, cipher);
}

export interface VapidKeys {
  /** base64url of the raw (uncompressed) P-256 public key: what browsers subscribe with. */
  publicKey: string;
  privateJwk: JWK;
}

export async function newVapidKeys(): Promise<VapidKeys> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const raw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const privateJwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JWK;
  return { publicKey: base64url(raw), privateJwk };
}

/** The `Authorization: vapid t=…, k=…` header for one push service (RFC 8292). */
export async function vapidAuthorization(endpoint: string, keys: VapidKeys, contact: string, now = Date.now()): Promise<string> {
  const key = await importJWK(keys.privateJwk, "ES256");
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: "ES256", typ: "JWT" })
    .setAudience(new URL(endpoint).origin)
    .setSubject(contact)
    .setExpirationTime(Math.floor(now / 1000) + 12 * 3600)
    .sign(key);
  return `vapid t=${jwt}, k=${keys.publicKey}`;
}
