import { base64url, exportJWK, type JWK } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { call, createSpace, expectProblem, json, me, uniqueSlug, type TestSpace } from "../helpers/harness";
import { expectTokenRefused, hs256Token, idpClaims, newIdpKey, setSpaceAuth, signWith, type IdpKey } from "../helpers/jwt";

// An operator IdP whose keys come from `auth.jwksUrl` (SPEC §3.3, §8.3). The Worker runs
// in the test's isolate, so a spy on globalThis.fetch sees (and answers) its outbound
// requests, and vi.setSystemTime moves the Worker's clock too. The JWKS cache is per
// isolate and keyed by URL: every test uses its own URL under https://idp.test/.

type Handler = (request: Request) => Response | Promise<Response>;

interface Outbound {
  url: string;
  method: string;
  redirect: string | undefined;
  accept: string | null;
}

let handlers: Map<string, Handler>;
let outbound: Outbound[];

beforeEach(() => {
  handlers = new Map();
  outbound = [];
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input instanceof URL ? input.href : input, init);
    if (!request.url.startsWith("https://idp.test/")) return realFetch(input, init);
    outbound.push({
      url: request.url,
      method: request.method,
      redirect: init?.redirect ?? (input instanceof Request ? input.redirect : undefined),
      accept: request.headers.get("accept"),
    });
    const handler = handlers.get(request.url);
    return handler ? handler(request) : new Response("not found", { status: 404 });
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

const fetchesOf = (url: string) => outbound.filter((o) => o.url === url).length;

interface UrlIdp {
  space: TestSpace;
  url: string;
  auth: { issuer: string; audience: string };
  key: IdpKey;
}

/** A space whose IdP publishes its keys at a URL unique to this test. */
async function urlIdpSpace(): Promise<UrlIdp> {
  const space = await createSpace();
  const url = `https://idp.test/${space.slug}/.well-known/jwks.json`;
  const auth = { issuer: `https://idp.test/${space.slug}`, audience: `aud-${space.slug}` };
  await setSpaceAuth(space, { ...auth, jwksUrl: url });
  const key = await newIdpKey("ES256");
  return { space, url, auth, key };
}

const serveKeys = (...keys: JWK[]): Handler => () => Response.json({ keys });

async function expectMe(token: string, space: TestSpace, userId = "user-1"): Promise<void> {
  const response = await me(token, space.slug);
  expect(response.status, await response.clone().text()).toBe(200);
  expect((await json(response)).userId).toBe(userId);
}

async function expectUnavailable(response: Response): Promise<void> {
  await expectProblem(response, 503, "unavailable");
  expect(response.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
}

describe("auth.jwksUrl", () => {
  it("the spy intercepts the Worker's fetch (precondition of this file)", async () => {
    const { space, url, auth, key } = await urlIdpSpace();
    expect(outbound).toEqual([]); // configuring the URL fetches nothing
    handlers.set(url, serveKeys(key.publicJwk));
    await expectMe(await signWith(key, idpClaims(auth)), space);
    expect(outbound).toEqual([{ url, method: "GET", redirect: "manual", accept: "application/json" }]);
  });

  it("fetches the keys once and serves later tokens from the cache", async () => {
    const { space, url, auth, key } = await urlIdpSpace();
    handlers.set(url, serveKeys(key.publicJwk));
    await expectMe(await signWith(key, idpClaims(auth, { sub: "first" })), space, "first");
    expect(fetchesOf(url)).toBe(1);
    await expectMe(await signWith(key, idpClaims(auth, { sub: "second" })), space, "second");
    await expectMe(await signWith(key, idpClaims(auth, { sub: "third" })), space, "third");
    expect(fetchesOf(url)).toBe(1);
    // Even with the IdP gone, the cached keys serve.
    handlers.set(url, () => new Response("down", { status: 500 }));
    await expectMe(await signWith(key, idpClaims(auth, { sub: "fourth" })), space, "fourth");
    expect(fetchesOf(url)).toBe(1);
  });

  it("concurrent first requests share one fetch and all succeed", async () => {
    const { space, url, auth, key } = await urlIdpSpace();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    handlers.set(url, async () => {
      await gate;
      return Response.json({ keys: [key.publicJwk] });
    });
    const tokens = await Promise.all(["c1", "c2", "c3"].map((sub) => signWith(key, idpClaims(auth, { sub }))));
    const pending = tokens.map((token) => me(token, space.slug));
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    const responses = await Promise.all(pending);
    const statuses = await Promise.all(responses.map(async (r) => `${r.status} ${await r.text()}`));
    expect(responses.map((r) => r.status), statuses.join("\n")).toEqual([200, 200, 200]);
    expect(fetchesOf(url)).toBe(1);
  });

  it("concurrent requests during a failing first fetch all get 503 from that one fetch", async () => {
    const { space, url, auth, key } = await urlIdpSpace();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    handlers.set(url, async () => {
      await gate;
      return new Response("down", { status: 502 });
    });
    const token = await signWith(key, idpClaims(auth));
    const pending = [1, 2, 3].map(() => me(token, space.slug));
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    for (const response of await Promise.all(pending)) await expectUnavailable(response);
    expect(fetchesOf(url)).toBe(1);
  });

  it("concurrent requests with a new kid share the refetch and all succeed", async () => {
    const t0 = Date.now();
    vi.setSystemTime(t0);
    const { space, url, auth, key } = await urlIdpSpace();
    handlers.set(url, serveKeys(key.publicJwk));
    await expectMe(await signWith(key, idpClaims(auth)), space);
    const rotatedIn = await newIdpKey("ES256");
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    handlers.set(url, async () => {
      await gate;
      return Response.json({ keys: [key.publicJwk, rotatedIn.publicJwk] });
    });
    vi.setSystemTime(t0 + 5 * 60_000 + 1_000);
    const token = await signWith(rotatedIn, idpClaims(auth, { sub: "rotated" }));
    const pending = [1, 2, 3].map(() => me(token, space.slug));
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    const responses = await Promise.all(pending);
    const texts = await Promise.all(responses.map((r) => r.text()));
    expect(responses.map((r) => r.status), texts.join("\n")).toEqual([200, 200, 200]);
    expect(fetchesOf(url)).toBe(2);
  });

  it("refetches on an unknown kid at most once per 5 minutes", async () => {
    const t0 = Date.now();
    vi.setSystemTime(t0);
    const { space, url, auth, key } = await urlIdpSpace();
    const rotatedIn = await newIdpKey("ES256");
    handlers.set(url, serveKeys(key.publicJwk));
    await expectMe(await signWith(key, idpClaims(auth)), space);
    expect(fetchesOf(url)).toBe(1);

    // The IdP adds a key; a token with its kid right after the first fetch is not enough
    // to fetch again.
    handlers.set(url, serveKeys(key.publicJwk, rotatedIn.publicJwk));
    vi.setSystemTime(t0 + 1_000);
    const early = await signWith(rotatedIn, idpClaims(auth));
    await expectTokenRefused(await me(early, space.slug), early);
    expect(fetchesOf(url)).toBe(1);

    // Five minutes later the unknown kid triggers one refetch, which finds it.
    vi.setSystemTime(t0 + 5 * 60_000 + 1_000);
    await expectMe(await signWith(rotatedIn, idpClaims(auth)), space);
    expect(fetchesOf(url)).toBe(2);

    // Unknown kids right after: no more fetches, however many.
    const forger = await newIdpKey("ES256");
    for (const kid of ["ghost-1", "ghost-2", "ghost-3"]) {
      const token = await signWith(forger, idpClaims(auth), { header: { kid } });
      await expectTokenRefused(await me(token, space.slug), token);
    }
    expect(fetchesOf(url)).toBe(2);
    // Known kids keep working without fetching.
    await expectMe(await signWith(key, idpClaims(auth)), space);
    await expectMe(await signWith(rotatedIn, idpClaims(auth)), space);
    expect(fetchesOf(url)).toBe(2);

    // Another five minutes: one more refetch for an unknown kid.
    vi.setSystemTime(t0 + 10 * 60_000 + 2_000);
    const late = await signWith(forger, idpClaims(auth), { header: { kid: "ghost-4" } });
    await expectTokenRefused(await me(late, space.slug), late);
    const later = await signWith(forger, idpClaims(auth), { header: { kid: "ghost-5" } });
    await expectTokenRefused(await me(later, space.slug), later);
    expect(fetchesOf(url)).toBe(3);
  });

  it("a failing JWKS endpoint after a successful fetch keeps the cached keys working", async () => {
    const t0 = Date.now();
    vi.setSystemTime(t0);
    const { space, url, auth, key } = await urlIdpSpace();
    handlers.set(url, serveKeys(key.publicJwk));
    await expectMe(await signWith(key, idpClaims(auth)), space);
    expect(fetchesOf(url)).toBe(1);

    // The IdP fails (HTTP error); the copy is old enough to be refreshed.
    handlers.set(url, () => new Response("boom", { status: 500 }));
    vi.setSystemTime(t0 + 61 * 60_000);
    await expectMe(await signWith(key, idpClaims(auth)), space);
    expect(fetchesOf(url)).toBe(2);

    // An unknown kid while the IdP is down (network error): a refusal, not a 503.
    handlers.set(url, () => {
      throw new TypeError("network connection lost");
    });
    vi.setSystemTime(t0 + 67 * 60_000);
    const forged = await signWith(await newIdpKey("ES256"), idpClaims(auth), { header: { kid: "unknown" } });
    await expectTokenRefused(await me(forged, space.slug), forged);
    expect(fetchesOf(url)).toBe(3);
    await expectMe(await signWith(key, idpClaims(auth)), space);

    // A garbage answer does not replace the keys either.
    handlers.set(url, () => new Response("<html>maintenance</html>", { status: 200 }));
    vi.setSystemTime(t0 + 73 * 60_000);
    await expectMe(await signWith(key, idpClaims(auth)), space);
    expect(fetchesOf(url)).toBe(4);
    handlers.set(url, () => Response.json({ keys: "nope" }));
    vi.setSystemTime(t0 + 79 * 60_000);
    await expectMe(await signWith(key, idpClaims(auth)), space);
    expect(fetchesOf(url)).toBe(5);
  });

  it("a first fetch that fails → 503 unavailable with Retry-After, without hammering the IdP", async () => {
    const t0 = Date.now();
    vi.setSystemTime(t0);
    const { space, url, auth, key } = await urlIdpSpace();
    handlers.set(url, () => new Response("unavailable", { status: 503 }));
    const token = await signWith(key, idpClaims(auth));
    const response = await me(token, space.slug);
    const text = await response.clone().text();
    await expectUnavailable(response);
    expect(text).not.toContain(token);
    expect(fetchesOf(url)).toBe(1);

    expect(response.headers.get("retry-after")).toBe("30");

    // 10 s later: still 503, no new fetch, and Retry-After says when the next try is.
    vi.setSystemTime(t0 + 10_000);
    const again = await me(token, space.slug);
    expect(again.headers.get("retry-after")).toBe("20");
    await expectUnavailable(again);
    expect(fetchesOf(url)).toBe(1);

    // The IdP recovers; with no keys at all, the next try comes after 30 s (not 5 min).
    handlers.set(url, serveKeys(key.publicJwk));
    vi.setSystemTime(t0 + 30_000);
    await expectMe(await signWith(key, idpClaims(auth)), space);
    expect(fetchesOf(url)).toBe(2);
  });

  it("an IdP that never answers: the fetch is cut after 5 s (503), and a cached key keeps working while a refetch hangs", async () => {
    const { space, url, auth, key } = await urlIdpSpace();
    const hang: Handler = (request) =>
      new Promise((_resolve, reject) => request.signal.addEventListener("abort", () => reject(request.signal.reason ?? new Error("aborted"))));
    handlers.set(url, hang);
    const started = performance.now();
    await expectUnavailable(await me(await signWith(key, idpClaims(auth)), space.slug));
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(4_900);
    expect(waited).toBeLessThan(15_000);

    // Keys cached from a good fetch; then a token with a new kid makes the Worker refetch
    // from an IdP that hangs: the cached key's tokens are still accepted meanwhile.
    const other = await urlIdpSpace();
    handlers.set(other.url, serveKeys(other.key.publicJwk));
    await expectMe(await signWith(other.key, idpClaims(other.auth)), other.space);
    handlers.set(other.url, hang);
    vi.setSystemTime(Date.now() + 6 * 60_000); // past the 5 minutes between refetches
    const unknown = await newIdpKey("ES256");
    const refetch = me(await signWith(unknown, idpClaims(other.auth)), other.space.slug);
    await vi.waitFor(() => expect(fetchesOf(other.url)).toBe(2));
    const during = performance.now(); // Date is pinned by setSystemTime; performance is not
    await expectMe(await signWith(other.key, idpClaims(other.auth)), other.space);
    expect(performance.now() - during).toBeLessThan(4_000);
    expect((await refetch).status).toBe(401);
  }, 30_000);

  it("other first-fetch failures (network error, not JSON, not a JWKS, empty 200, 404) → 503", async () => {
    const failures: Handler[] = [
      () => {
        throw new TypeError("connection refused");
      },
      () => new Response("not json", { status: 200 }),
      () => Response.json({ not: "a jwks" }),
      () => new Response(null, { status: 200 }),
      () => new Response("gone", { status: 404 }),
      () => Response.json({ keys: [] }, { status: 201 }),
    ];
    for (const failure of failures) {
      const { space, url, auth, key } = await urlIdpSpace();
      handlers.set(url, failure);
      await expectUnavailable(await me(await signWith(key, idpClaims(auth)), space.slug));
      expect(fetchesOf(url)).toBe(1);
    }
  });

  it("does not follow redirects (301/302/303/307/308)", async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      const { space, url, auth, key } = await urlIdpSpace();
      const target = `https://idp.test/${uniqueSlug("redirected")}/jwks.json`;
      handlers.set(target, serveKeys(key.publicJwk));
      handlers.set(url, () => new Response(null, { status, headers: { Location: target } }));
      await expectUnavailable(await me(await signWith(key, idpClaims(auth)), space.slug));
      expect(fetchesOf(url)).toBe(1);
      expect(fetchesOf(target)).toBe(0);
      expect(outbound.find((o) => o.url === url)!.redirect).toBe("manual");
    }
  });

  it("refuses a JWKS body over 64 KiB (declared or streamed); accepts one just under", async () => {
    const padded = (key: IdpKey, size: number) => {
      const base = JSON.stringify({ keys: [key.publicJwk] });
      return base + " ".repeat(size - base.length);
    };
    {
      const { space, url, auth, key } = await urlIdpSpace();
      handlers.set(url, () => new Response(padded(key, 64 * 1024 + 1), { headers: { "Content-Type": "application/json" } }));
      await expectUnavailable(await me(await signWith(key, idpClaims(auth)), space.slug));
      expect(fetchesOf(url)).toBe(1);
    }
    {
      // No Content-Length: chunks of 16 KiB, 5 of them.
      const { space, url, auth, key } = await urlIdpSpace();
      const text = padded(key, 80 * 1024);
      handlers.set(url, () => {
        const bytes = new TextEncoder().encode(text);
        let offset = 0;
        const stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (offset >= bytes.length) return controller.close();
            controller.enqueue(bytes.slice(offset, offset + 16 * 1024));
            offset += 16 * 1024;
          },
        });
        return new Response(stream, { headers: { "Content-Type": "application/json" } });
      });
      await expectUnavailable(await me(await signWith(key, idpClaims(auth)), space.slug));
    }
    {
      const { space, url, auth, key } = await urlIdpSpace();
      handlers.set(url, () => new Response(padded(key, 64 * 1024), { headers: { "Content-Type": "application/json" } }));
      await expectMe(await signWith(key, idpClaims(auth)), space);
    }
  });

  it("uses only public asymmetric keys from the URL (an oct key or a private JWK is ignored)", async () => {
    const { space, url, auth, key } = await urlIdpSpace();
    const secret = new TextEncoder().encode("a-shared-secret-of-at-least-32-bytes!!");
    const leaked = await newIdpKey("ES256");
    const leakedPrivate = { ...(await exportJWK(leaked.privateKey)), kid: leaked.kid, alg: "ES256" };
    handlers.set(
      url,
      serveKeys(key.publicJwk, { kty: "oct", k: base64url.encode(secret), kid: "sym", alg: "HS256" }, leakedPrivate),
    );
    await expectMe(await signWith(key, idpClaims(auth)), space);
    const hs = await hs256Token(secret, idpClaims(auth), { kid: "sym" });
    await expectTokenRefused(await me(hs, space.slug), hs);
    const viaPrivate = await signWith(leaked, idpClaims(auth));
    await expectTokenRefused(await me(viaPrivate, space.slug), viaPrivate);
    expect(fetchesOf(url)).toBe(1);
  });

  it("refuses jwksUrl values outside the outbound URL policy at write time, without fetching", async () => {
    const space = await createSpace();
    const bad = [
      "http://idp.test/jwks.json",
      "https://127.0.0.1/jwks.json",
      "https://localhost/jwks.json",
      "https://169.254.169.254/latest/meta-data",
      "https://[::ffff:127.0.0.1]/jwks.json",
      "https://[::1]/jwks.json",
      "https://10.0.0.1/jwks.json",
      "https://0x7f000001/jwks.json",
      "https://metadata.google.internal/jwks.json",
      "https://user:pass@idp.test/jwks.json",
      "file:///etc/passwd",
      "not a url",
    ];
    for (const jwksUrl of bad) {
      const response = await call(`/api/loyalty/admin/spaces/${space.slug}`, {
        method: "PATCH",
        body: { auth: { issuer: `https://idp.test/${space.slug}`, audience: uniqueSlug(), jwksUrl } },
      });
      const problem = await expectProblem(response, 400, "invalid_request");
      expect(problem.errors.map((e: { path: string }) => e.path), jwksUrl).toContain("auth.jwksUrl");
    }
    expect(outbound).toEqual([]);
    const view = await json(await call(`/api/loyalty/admin/spaces/${space.slug}`));
    expect(view.auth).toBeNull();
  });
});
