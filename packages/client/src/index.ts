// The loyalty engine's typed client: openapi-fetch over the types generated from the
// service's OpenAPI document (schema.ts). Every path, parameter, body and response is
// checked at compile time; the runtime is a thin fetch wrapper.
//
//   const admin = adminClient({ baseUrl: "http://localhost:8787", key: process.env.ADMIN_ROOT_KEY! });
//   const { token } = await unwrap(admin.POST("/api/loyalty/admin/users/{userId}/token", {
//     params: { path: { userId: "u_42" } },
//     body: { ttlSeconds: 3600 },
//   }));
//   const me = await unwrap(userClient({ baseUrl: "http://localhost:8787", token }).GET("/api/loyalty/me"));
import createClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths } from "./schema.js";
export type { Client, ClientOptions } from "openapi-fetch";

/** A schema from the document's components, e.g. `Schema<"EventOutcome">`. */
export type Schema<Name extends keyof components["schemas"]> = components["schemas"][Name];
/** An RFC 9457 problem+json error body, with the service's stable `code` (docs/errors.md). */
export type Problem = components["schemas"]["Problem"];

type UserPath = "/api/loyalty/me" | `/api/loyalty/me/${string}`;
type AdminPath = `/api/loyalty/admin/${string}`;
/** The Admin API (`/api/loyalty/admin/…`, API keys or the root key) and the public routes. */
export type AdminPaths = { [P in keyof paths as P extends UserPath ? never : P]: paths[P] };
/** The User API (`/api/loyalty/me…`, user tokens) and the public routes. */
export type UserPaths = { [P in keyof paths as P extends AdminPath ? never : P]: paths[P] };

export type AdminClient = Client<AdminPaths>;
export type UserClient = Client<UserPaths>;

export interface ClientConfig {
  /** Where the service is, e.g. `http://localhost:8787` (paths start with `/api/loyalty`). */
  baseUrl: string;
  /** The space (`X-Loyalty-Space`); by default the host's, the API key's own, or `default`. */
  space?: string;
  /** Anything else for openapi-fetch: a custom `fetch`, more headers, … */
  options?: Omit<ClientOptions, "baseUrl" | "headers"> & { headers?: Record<string, string> };
}

function create<Paths extends {}>({ baseUrl, space, options }: ClientConfig, credential: string): Client<Paths> {
  return createClient<Paths>({
    ...options,
    baseUrl: baseUrl.replace(/\/+$/, ""),
    headers: { ...options?.headers, authorization: `Bearer ${credential}`, "x-loyalty-space": space },
  });
}

/** A client for the Admin API with an API key (`lk_…`) or the root key. */
export function adminClient(config: ClientConfig & { key: string }): AdminClient {
  return create<AdminPaths>(config, config.key);
}

/** A client for the User API with a user token (minted by the space or by your identity provider). */
export function userClient(config: ClientConfig & { token: string }): UserClient {
  return create<UserPaths>(config, config.token);
}

export function isProblem(value: unknown): value is Problem {
  if (typeof value !== "object" || value === null) return false;
  const { status, code } = value as Record<string, unknown>;
  return typeof status === "number" && typeof code === "string";
}

/** A response that was not 2xx: the problem details when the body is one, else the raw body. */
export class ProblemError extends Error {
  override readonly name = "ProblemError";
  readonly status: number;
  /** The problem's stable code (`invalid_request`, `not_found`, …), or `http_<status>`. */
  readonly code: string;
  readonly problem: Problem | undefined;
  readonly body: unknown;
  readonly response: Response;

  constructor(response: Response, body: unknown) {
    const problem = isProblem(body) ? body : undefined;
    const detail = problem ? `${problem.code}: ${problem.detail}` : typeof body === "string" ? body : JSON.stringify(body);
    super(`${response.status} ${detail} (${response.url})`);
    this.status = response.status;
    this.code = problem?.code ?? `http_${response.status}`;
    this.problem = problem;
    this.body = body;
    this.response = response;
  }
}

/**
 * The body of a successful response, or a thrown `ProblemError`:
 * `const outcome = await unwrap(admin.POST("/api/loyalty/admin/events", { body }))`.
 */
export async function unwrap<Data>(request: Promise<{ data?: Data; error?: unknown; response: Response }>): Promise<Data> {
  const { data, error, response } = await request;
  if (!response.ok) throw new ProblemError(response, error);
  return data as Data;
}
