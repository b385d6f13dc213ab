import { describe, it, expect } from "vitest";
import {
  checkOutboundUrl,
  isPublicIPv4,
  isPublicIPv6,
  parseIPv6,
  MAX_OUTBOUND_URL_LENGTH,
  type UrlPolicyOptions,
} from "../../src/outbound/url-policy";

const STRICT: UrlPolicyOptions = { allowPrivate: false };
const DEV: UrlPolicyOptions = { allowPrivate: true };
const SPACES: UrlPolicyOptions = { allowPrivate: false, spaceHostSuffix: "loyalty.example.com" };

describe("WHATWG URL normalisation the policy relies on", () => {
  it.each([
    ["https://2130706433/", "127.0.0.1"],
    ["https://0x7f.1/", "127.0.0.1"],
    ["https://0177.0.0.1/", "127.0.0.1"],
    ["https://127.1/", "127.0.0.1"],
    ["https://0x7f000001/", "127.0.0.1"],
    ["https://%31%32%37.0.0.1/", "127.0.0.1"],
    ["https://0/", "0.0.0.0"],
    ["https://[::ffff:127.0.0.1]/", "[::ffff:7f00:1]"],
    ["https://[::127.0.0.1]/", "[::7f00:1]"],
    ["https://[0:0:0:0:0:0:0:1]/", "[::1]"],
    ["https://ＬＯＣＡＬＨＯＳＴ/", "localhost"],
  ])("new URL(%s).hostname === %s", (input, hostname) => {
    expect(new URL(input).hostname).toBe(hostname);
  });
});

describe("checkOutboundUrl: allowed public targets (strict)", () => {
  it.each([
    "https://example.com/hook",
    "https://hooks.slack.com/x",
    "https://8.8.8.8/",
    "https://1.1.1.1:8443/path?q=1#frag",
    "https://[2606:4700::1111]/",
    "https://[2001:4860:4860::8888]/",
    "https://[2002:808:808::1]/", // 6to4 embedding public 8.8.8.8
    "https://[::ffff:8.8.8.8]/", // IPv4-mapped public
    "https://[64:ff9b::808:808]/", // NAT64 of public 8.8.8.8
    "https://EXAMPLE.com./hook", // trailing root dot
    "https://api.example.co.uk/v1/webhooks",
    "https://xn--bcher-kva.example/",
    "https://100.63.255.255/", // just below 100.64/10
    "https://100.128.0.1/", // just above 100.64/10
    "https://172.15.255.255/",
    "https://172.32.0.1/",
    "https://198.20.0.1/",
    "https://223.255.255.255/",
  ])("allows %s", (input) => {
    const r = checkOutboundUrl(input, STRICT);
    expect(r).toMatchObject({ ok: true });
    if (r.ok) expect(r.url).toBeInstanceOf(URL);
  });
});

describe("checkOutboundUrl: refused (strict)", () => {
  it.each([
    // scheme
    ["http://example.com/hook", /https/],
    ["ftp://example.com/file", /https/],
    ["file:///etc/passwd", /https/],
    ["javascript:alert(1)", /https/],
    ["data:text/plain,hi", /https/],
    ["ws://example.com/", /https/],
    // unparseable / empty
    ["", /empty/],
    ["   ", /empty/],
    ["not a url", /parsed/],
    ["https://", /parsed/],
    ["https://999.1.1.1/", /parsed/],
    ["https://[::1/", /parsed/],
    // credentials
    ["https://user:pass@example.com/", /credentials/],
    ["https://user@example.com/", /credentials/],
    ["https://:pass@example.com/", /credentials/],
    // length
    [`https://example.com/${"a".repeat(MAX_OUTBOUND_URL_LENGTH)}`, /longer/],
    [`https://example.com/${"é".repeat(700)}`, /longer/], // grows past the limit when percent-encoded
    // IPv4 ranges, in several notations
    ["https://127.0.0.1/", /private/],
    ["https://2130706433/", /private/],
    ["https://0x7f.1/", /private/],
    ["https://0177.0.0.1/", /private/],
    ["https://127.1/", /private/],
    ["https://0.0.0.0/", /private/],
    ["https://0/", /private/],
    ["https://10.0.0.1/", /private/],
    ["https://012.0.0.1/", /private/], // octal 10.0.0.1
    ["https://172.16.0.1/", /private/],
    ["https://172.31.255.255/", /private/],
    ["https://192.168.1.1/", /private/],
    ["https://3232235777/", /private/], // decimal 192.168.1.1
    ["https://169.254.169.254/latest/meta-data/", /private/],
    ["https://0xa9fea9fe/", /private/], // hex 169.254.169.254
    ["https://100.64.0.1/", /private/],
    ["https://100.100.100.200/", /private/], // Alibaba metadata
    ["https://100.127.255.255/", /private/],
    ["https://192.0.0.1/", /private/],
    ["https://192.0.2.1/", /private/],
    ["https://198.51.100.1/", /private/],
    ["https://203.0.113.1/", /private/],
    ["https://198.18.0.1/", /private/],
    ["https://198.19.255.255/", /private/],
    ["https://192.88.99.1/", /private/],
    ["https://224.0.0.1/", /private/],
    ["https://239.255.255.250/", /private/],
    ["https://240.0.0.1/", /private/],
    ["https://255.255.255.255/", /private/],
    ["https://127.0.0.1./", /private/],
    // IPv6 literals
    ["https://[::1]/", /private/],
    ["https://[::]/", /private/],
    ["https://[0:0:0:0:0:0:0:1]/", /private/],
    ["https://[fe80::1]/", /private/],
    ["https://[fc00::1]/", /private/],
    ["https://[fd12::1]/", /private/],
    ["https://[fd00:ec2::254]/", /private/], // AWS IPv6 metadata
    ["https://[ff02::1]/", /private/],
    ["https://[2001:db8::1]/", /private/],
    ["https://[2001::1]/", /private/], // Teredo
    ["https://[2001:10::1]/", /private/], // ORCHID, inside 2001::/23
    ["https://[3fff::1]/", /private/],
    ["https://[::ffff:127.0.0.1]/", /private/],
    ["https://[::ffff:7f00:1]/", /private/],
    ["https://[::ffff:a9fe:a9fe]/", /private/],
    ["https://[::ffff:10.0.0.1]/", /private/],
    ["https://[::127.0.0.1]/", /private/],
    ["https://[64:ff9b::a00:1]/", /private/],
    ["https://[64:ff9b::7f00:1]/", /private/],
    ["https://[2002:7f00:1::]/", /private/],
    ["https://[2002:c0a8:101::1]/", /private/],
    ["https://[2002:a9fe:a9fe::]/", /private/],
    ["https://[100::1]/", /private/], // discard-only
    ["https://[::ffff:0:7f00:1]/", /private/], // SIIT, outside 2000::/3
    // hostnames
    ["https://localhost/", /local/],
    ["https://localhost./", /local/],
    ["https://LOCALHOST:8787/", /local/],
    ["https://ＬＯＣＡＬＨＯＳＴ/", /local/],
    ["https://api.localhost/", /local/],
    ["https://printer.local/", /local/],
    ["https://metadata.google.internal/", /local/],
    ["https://db.internal./", /local/],
    ["https://box.localdomain/", /local/],
    ["https://nas.home.arpa/", /local/],
    ["https://metadata/", /fully qualified/],
    ["https://intranet/", /fully qualified/],
    ["https://intranet./", /fully qualified/],
    ["https://a..b/", /malformed/],
    ["https://example.com../", /malformed/],
  ])("refuses %s", (input, reason) => {
    const r = checkOutboundUrl(input, STRICT);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toMatch(reason);
      expect(r.reason.length).toBeLessThan(100);
    }
  });

  it("judges IPv4-compatible [::8.8.8.8] by its embedded public IPv4", () => {
    expect(checkOutboundUrl("https://[::8.8.8.8]/", STRICT).ok).toBe(true);
  });

  it("accepts exactly the maximum length", () => {
    const base = "https://example.com/";
    const input = base + "a".repeat(MAX_OUTBOUND_URL_LENGTH - base.length);
    expect(input.length).toBe(MAX_OUTBOUND_URL_LENGTH);
    expect(checkOutboundUrl(input, STRICT).ok).toBe(true);
  });
});

describe("checkOutboundUrl: allowPrivate relaxations", () => {
  it.each([
    "http://example.com/hook",
    "http://localhost:8787/hook",
    "https://localhost/",
    "http://127.0.0.1:9000/",
    "http://2130706433/",
    "http://[::1]:8080/",
    "http://10.0.0.5/",
    "http://192.168.1.10/",
    "http://receiver/", // single-label docker/compose service names
    "http://printer.local/",
    "https://[fd12::1]/",
  ])("allows %s", (input) => {
    expect(checkOutboundUrl(input, DEV).ok).toBe(true);
  });

  it.each([
    ["ftp://localhost/", /http: and https:/],
    ["file:///etc/passwd", /http: and https:/],
    ["javascript:alert(1)", /http: and https:/],
    ["data:text/plain,hi", /http: and https:/],
    ["http://user:pass@localhost/", /credentials/],
    ["https://user@127.0.0.1/", /credentials/],
    [`http://localhost/${"a".repeat(MAX_OUTBOUND_URL_LENGTH)}`, /longer/],
    ["http://", /parsed/],
    ["http://dev.loyalty.localhost/", /own hosts/],
  ])("still refuses %s", (input, reason) => {
    const r = checkOutboundUrl(input, { ...DEV, spaceHostSuffix: "loyalty.localhost" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});

describe("checkOutboundUrl: space host suffix", () => {
  it.each([
    ["https://loyalty.example.com/", SPACES],
    ["https://acme.loyalty.example.com/hook", SPACES],
    ["https://a.b.loyalty.example.com/", SPACES],
    ["https://ACME.Loyalty.Example.COM./hook", SPACES],
    ["https://acme.loyalty.example.com/", { allowPrivate: false, spaceHostSuffix: ".Loyalty.Example.com." }],
    ["https://acme.loyalty.example.com/", { allowPrivate: true, spaceHostSuffix: "loyalty.example.com" }],
  ] as const)("refuses %s", (input, options) => {
    const r = checkOutboundUrl(input, options);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/own hosts/);
  });

  it.each([
    ["https://loyalty.example.com.evil.net/", SPACES],
    ["https://notloyalty.example.com/", SPACES],
    ["https://other-loyalty.example.com/", SPACES],
    ["https://example.com/", SPACES],
    ["https://acme.loyalty.example.com/", { allowPrivate: false, spaceHostSuffix: "" }],
    ["https://acme.loyalty.example.com/", { allowPrivate: false, spaceHostSuffix: undefined }],
    ["https://acme.loyalty.example.com/", { allowPrivate: false, spaceHostSuffix: "   " }],
  ] as const)("allows %s", (input, options) => {
    expect(checkOutboundUrl(input, options).ok).toBe(true);
  });
});

describe("isPublicIPv4", () => {
  it.each([
    [[8, 8, 8, 8], true],
    [[1, 1, 1, 1], true],
    [[100, 63, 0, 1], true],
    [[127, 0, 0, 1], false],
    [[169, 254, 169, 254], false],
    [[100, 64, 0, 0], false],
    [[255, 255, 255, 255], false],
    [[256, 0, 0, 1], false],
    [[-1, 0, 0, 1], false],
    [[1.5, 0, 0, 1], false],
  ] as const)("%j → %s", ([a, b, c, d], expected) => {
    expect(isPublicIPv4(a, b, c, d)).toBe(expected);
  });
});

describe("parseIPv6 / isPublicIPv6", () => {
  it.each([
    ["::", [0, 0, 0, 0, 0, 0, 0, 0]],
    ["::1", [0, 0, 0, 0, 0, 0, 0, 1]],
    ["1::", [1, 0, 0, 0, 0, 0, 0, 0]],
    ["2001:db8::1", [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]],
    ["::ffff:127.0.0.1", [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]],
    ["::127.0.0.1", [0, 0, 0, 0, 0, 0, 0x7f00, 1]],
    ["1:2:3:4:5:6:1.2.3.4", [1, 2, 3, 4, 5, 6, 0x102, 0x304]],
    ["1:2:3:4:5:6:7:8", [1, 2, 3, 4, 5, 6, 7, 8]],
    ["1:2:3:4:5:6:7::", [1, 2, 3, 4, 5, 6, 7, 0]],
    ["FE80::A", [0xfe80, 0, 0, 0, 0, 0, 0, 0xa]],
  ])("parses %s", (text, hextets) => {
    expect(parseIPv6(text)).toEqual(hextets);
  });

  it.each([
    "",
    ":",
    ":::",
    "1::2::3",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "12345::",
    "g::1",
    "::256.0.0.1",
    ":1::",
  ])("rejects malformed %j", (text) => {
    expect(parseIPv6(text)).toBeNull();
  });

  it("needs exactly 8 hextets", () => {
    expect(isPublicIPv6([0x2606, 0x4700])).toBe(false);
    expect(isPublicIPv6([0x2606, 0x4700, 0, 0, 0, 0, 0, 0x1111])).toBe(true);
  });
});
