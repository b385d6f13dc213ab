import { base64url, fromBase64url } from "../lib/ids";

// Secrets at rest (signing private keys, hs256 secrets, later VAPID keys and webhook
// secrets) are sealed with AES-256-GCM under SIGNING_KEY_SECRET when the deployment sets
// it (SPEC §3.3). The variable is `keyId:secret[,keyId:secret…]`: the first entry seals,
// every entry opens, so the secret can be rotated by prepending a new one. The AES key
// is derived with HKDF, so any long random string works as a secret. The `context`
// (e.g. "signing-key:spc_…:kid") is bound as associated data, so a sealed value copied
// into another row or space does not open.
//
// Formats: `v1.<keyId>.<iv>.<ciphertext>` (sealed) or `plain.<base64url>` (no secret set).

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface SealingKey {
  id: string;
  key: CryptoKey;
}

const derived = new Map<string, Promise<SealingKey[]>>();

function parseSecretList(value: string): Array<{ id: string; secret: string }> {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry) => {
      const colon = entry.indexOf(":");
      return colon > 0 ? { id: entry.slice(0, colon), secret: entry.slice(colon + 1) } : { id: "default", secret: entry };
    });
}

async function deriveKey(secret: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: encoder.encode("loyalty-engine/sealed/v1"), info: new Uint8Array() },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

function sealingKeys(secretSetting: string): Promise<SealingKey[]> {
  let keys = derived.get(secretSetting);
  if (!keys) {
    keys = Promise.all(parseSecretList(secretSetting).map(async ({ id, secret }) => ({ id, key: await deriveKey(secret) })));
    derived.set(secretSetting, keys);
  }
  return keys;
}

export async function seal(plaintext: string, context: string, secretSetting: string | undefined): Promise<string> {
  if (!secretSetting) return `plain.${base64url(encoder.encode(plaintext))}`;
  const [current] = await sealingKeys(secretSetting);
  if (!current) throw new Error("SIGNING_KEY_SECRET has no usable entry");
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
    current.key,
    encoder.encode(plaintext),
  );
  return `v1.${current.id}.${base64url(iv)}.${base64url(new Uint8Array(ciphertext))}`;
}

export async function open(sealed: string, context: string, secretSetting: string | undefined): Promise<string> {
  const parts = sealed.split(".");
  if (parts[0] === "plain" && parts.length === 2) return decoder.decode(fromBase64url(parts[1]!));
  if (parts[0] !== "v1" || parts.length !== 4) throw new Error("unrecognised sealed value");
  if (!secretSetting) throw new Error("a sealed secret needs SIGNING_KEY_SECRET to open");
  const keys = await sealingKeys(secretSetting);
  const entry = keys.find((k) => k.id === parts[1]);
  if (!entry) throw new Error(`SIGNING_KEY_SECRET has no key '${parts[1]}'`);
  const plaintext = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromBase64url(parts[2]!), additionalData: encoder.encode(context) },
    entry.key,
    fromBase64url(parts[3]!),
  );
  return decoder.decode(plaintext);
}
