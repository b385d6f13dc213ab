/**
 * The single outbound URL policy (webhooks, push gateways, JWKS).
 * Checked when a URL is written and again before every send, so it must be
 * pure and cheap. It only inspects the URL itself; it cannot see what a
 * hostname resolves to, so it is one layer of SSRF defence, not the whole.
 */

export interface UrlPolicyOptions {
  /** ALLOW_PRIVATE_WEBHOOK_TARGETS=true (local dev/tests only): also allow http: and loopback/private targets. */
  allowPrivate: boolean;
  /** The deployment's SPACE_HOST_SUFFIX (e.g. "loyalty.example.com"), or undefined/"" when unset. Hosts equal to it or under it are refused. */
  spaceHostSuffix?: string;
}

export type UrlPolicyResult = { ok: true; url: URL } | { ok: false; reason: string };

export const MAX_OUTBOUND_URL_LENGTH = 2048;

// Suffixes that only ever name machines on a local or private network.
const INTERNAL_SUFFIXES = [".localhost", ".local", ".internal", ".localdomain", ".home.arpa"];

/**
 * True when a.b.c.d is a globally routable unicast IPv4 address. Everything
 * else (private, loopback, link-local incl. cloud metadata 169.254.169.254,
 * shared CGNAT incl. 100.100.100.200, documentation, benchmarking, multicast,
 * reserved, broadcast) is refused.
 */
export function isPublicIPv4(a: number, b: number, c: number, d: number): boolean {
  if ([a, b, c, d].some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return false;
  if (a === 0) return false; // 0.0.0.0/8 "this network", incl. unspecified
  if (a === 10) return false; // 10/8 private
  if (a === 100 && b >= 64 && b <= 127) return false; // 100.64/10 shared (CGNAT)
  if (a === 127) return false; // 127/8 loopback
  if (a === 169 && b === 254) return false; // 169.254/16 link-local, cloud metadata
  if (a === 172 && b >= 16 && b <= 31) return false; // 172.16/12 private
  if (a === 192 && b === 0 && (c === 0 || c === 2)) return false; // 192.0.0/24 IETF, 192.0.2/24 TEST-NET-1
  if (a === 192 && b === 88 && c === 99) return false; // 192.88.99/24 deprecated 6to4 relay
  if (a === 192 && b === 168) return false; // 192.168/16 private
  if (a === 198 && (b === 18 || b === 19)) return false; // 198.18/15 benchmarking
  if (a === 198 && b === 51 && c === 100) return false; // TEST-NET-2
  if (a === 203 && b === 0 && c === 113) return false; // TEST-NET-3
  if (a >= 224) return false; // 224/4 multicast, 240/4 reserved, 255.255.255.255 broadcast
  return true;
}

/**
 * Parses an IPv6 literal (no brackets) into 8 hextets, or null. WHATWG URL
 * already normalises literals to compressed hex, but we parse the general
 * form ("::" once, optional trailing dotted quad) so we never depend on that.
 */
export function parseIPv6(text: string): number[] | null {
  let s = text.toLowerCase();
  const tail: number[] = [];
  const v4 = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const o = v4.slice(2).map(Number);
    if (o.some((n) => n > 255)) return null;
    tail.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
    s = v4[1]!.endsWith("::") ? v4[1]! : v4[1]!.slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const toHextets = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    for (const h of part.split(":")) {
      if (!/^[0-9a-f]{1,4}$/.test(h)) return null;
      out.push(parseInt(h, 16));
    }
    return out;
  };
  const head = toHextets(halves[0]!);
  const rest = halves.length === 2 ? toHextets(halves[1]!) : [];
  if (!head || !rest) return null;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 2) {
    if (given > 7) return null; // "::" must stand for at least one zero hextet
    return [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
  }
  return given === 8 ? [...head, ...tail] : null;
}

/** Public-ness of an IPv4 address carried in two hextets (mapped, compatible, NAT64, 6to4). */
function embeddedV4IsPublic(hi: number, lo: number): boolean {
  return isPublicIPv4(hi >> 8, hi & 0xff, lo >> 8, lo & 0xff);
}

/** True when the 8 hextets are a globally routable unicast IPv6 address. */
export function isPublicIPv6(h: number[]): boolean {
  if (h.length !== 8) return false;
  const [h0, h1, h2, h3, h4, h5, h6, h7] = h as [number, number, number, number, number, number, number, number];
  const midZero = h2 === 0 && h3 === 0 && h4 === 0;
  // ::/96 (unspecified, loopback, IPv4-compatible) and ::ffff:0:0/96 (IPv4-mapped)
  // are reached as the embedded IPv4 by many stacks, so judge that instead.
  if (h0 === 0 && h1 === 0 && midZero && (h5 === 0 || h5 === 0xffff)) return embeddedV4IsPublic(h6, h7);
  // 64:ff9b::/96 NAT64 translates straight to the embedded IPv4.
  if (h0 === 0x64 && h1 === 0xff9b && midZero && h5 === 0) return embeddedV4IsPublic(h6, h7);
  // Outside 2000::/3 is link-local, ULA (incl. fd00:ec2::254 metadata), multicast, reserved.
  if ((h0 & 0xe000) !== 0x2000) return false;
  if (h0 === 0x2001 && h1 === 0x0db8) return false; // documentation
  if (h0 === 0x2001 && h1 < 0x0200) return false; // 2001::/23 IETF special, incl. Teredo
  if (h0 === 0x3fff && h1 < 0x1000) return false; // 3fff::/20 documentation (RFC 9637)
  if (h0 === 0x2002) return embeddedV4IsPublic(h1, h2); // 6to4 routes to the embedded IPv4
  return true;
}

function normaliseSuffix(suffix: string | undefined): string {
  return (suffix ?? "").trim().toLowerCase().replace(/^\.+/, "").replace(/\.$/, "");
}

/** Checks one URL string against the policy; `reason` is a short human sentence safe to show to an operator. */
export function checkOutboundUrl(input: string, options: UrlPolicyOptions): UrlPolicyResult {
  const refuse = (reason: string): UrlPolicyResult => ({ ok: false, reason });
  if (typeof input !== "string" || input.trim() === "") return refuse("The URL is empty.");
  if (input.length > MAX_OUTBOUND_URL_LENGTH) {
    return refuse(`The URL is longer than ${MAX_OUTBOUND_URL_LENGTH} characters.`);
  }

  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return refuse("The URL could not be parsed.");
  }
  // Normalisation (percent-encoding, IDNA) can lengthen it; the limit applies to what we send.
  if (url.href.length > MAX_OUTBOUND_URL_LENGTH) {
    return refuse(`The URL is longer than ${MAX_OUTBOUND_URL_LENGTH} characters.`);
  }

  const httpAllowed = options.allowPrivate && url.protocol === "http:";
  if (url.protocol !== "https:" && !httpAllowed) {
    return refuse(options.allowPrivate ? "Only http: and https: URLs are allowed." : "Only https: URLs are allowed.");
  }
  // Credentials in URLs leak into logs and delivery records; use headers/secrets instead.
  if (url.username !== "" || url.password !== "") return refuse("The URL must not contain credentials.");

  // "example.com." and "example.com" are the same host; compare without the root dot.
  const host = url.hostname.endsWith(".") ? url.hostname.slice(0, -1) : url.hostname;
  if (host === "" || host.startsWith(".") || host.endsWith(".") || host.includes("..")) {
    return refuse("The URL host is malformed.");
  }

  // Never let a tenant point deliveries back at this deployment's own spaces.
  const suffix = normaliseSuffix(options.spaceHostSuffix);
  if (suffix !== "" && (host === suffix || host.endsWith(`.${suffix}`))) {
    return refuse("The URL must not point at this deployment's own hosts.");
  }

  if (host.startsWith("[")) {
    const hextets = parseIPv6(host.slice(1, -1));
    if (!hextets) return refuse("The URL host is malformed.");
    if (!options.allowPrivate && !isPublicIPv6(hextets)) {
      return refuse("The URL points at a private, local or reserved IP address.");
    }
    return { ok: true, url };
  }

  // WHATWG URL has already rewritten decimal/octal/hex/shorthand IPv4 to dotted quad.
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    if (!options.allowPrivate && !isPublicIPv4(a, b, c, d)) {
      return refuse("The URL points at a private, local or reserved IP address.");
    }
    return { ok: true, url };
  }

  if (options.allowPrivate) return { ok: true, url };
  if (host === "localhost" || INTERNAL_SUFFIXES.some((s) => host.endsWith(s))) {
    return refuse("The URL points at a local or internal hostname.");
  }
  // Single-label names (e.g. "metadata", "intranet") resolve only via local search domains.
  if (!host.includes(".")) return refuse("The URL host must be a fully qualified domain name.");
  return { ok: true, url };
}
