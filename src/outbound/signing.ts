// Standard Webhooks v1 signatures (SPEC §8.1): `v1,<base64 HMAC-SHA256 of
// "{id}.{timestamp}.{body}">` under each live secret (`whsec_` + base64 of the key),
// space-separated while a rotated secret still signs.

const encoder = new TextEncoder();

function keyBytes(secret: string): Uint8Array {
  const b64 = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

function base64(bytes: ArrayBuffer): string {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text);
}

export async function signatureOf(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", keyBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${id}.${timestamp}.${body}`));
  return `v1,${base64(mac)}`;
}

/** The `webhook-signature` header: one `v1,` signature per live secret, newest first. */
export async function signatureHeader(secrets: string[], id: string, timestamp: number, body: string): Promise<string> {
  return (await Promise.all(secrets.map((s) => signatureOf(s, id, timestamp, body)))).join(" ");
}

/** The three Standard Webhooks headers for one attempt. */
export async function webhookHeaders(secrets: string[], id: string, timestamp: number, body: string): Promise<Record<string, string>> {
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signatureHeader(secrets, id, timestamp, body),
  };
}
