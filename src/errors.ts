// The closed list of error codes (SPEC §2). Every error response carries exactly one of
// these; clients switch on `code`, never on `title` or `detail`. docs/errors.md lists them.

export const ERROR_CODES = {
  // 400
  invalid_request: 400,
  malformed_json: 400,
  space_mismatch: 400,
  invalid_cursor: 400,
  idempotency_not_supported: 400,
  // 401
  missing_credential: 401,
  invalid_credential: 401,
  token_invalid: 401,
  token_expired: 401,
  token_revoked: 401,
  // 403
  insufficient_scope: 403,
  wrong_space: 403,
  // 404
  not_found: 404,
  // 405
  method_not_allowed: 405,
  // 409
  already_exists: 409,
  conflict: 409,
  in_use: 409,
  frozen: 409,
  campaign_frozen: 409,
  invalid_transition: 409,
  idempotency_in_progress: 409,
  event_id_reused: 409,
  insufficient_balance: 409,
  above_max: 409,
  out_of_stock: 409,
  per_user_limit: 409,
  out_of_codes: 409,
  freeze_cap: 409,
  limit_reached: 409,
  // 412
  precondition_failed: 412,
  // 413
  payload_too_large: 413,
  // 415
  unsupported_media_type: 415,
  // 422
  unknown_reference: 422,
  invalid_definition: 422,
  idempotency_key_reused: 422,
  not_redeemable: 422,
  // 429
  rate_limited: 429,
  // 500
  internal_error: 500,
  // 503
  not_configured: 503,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

const TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not found",
  405: "Method not allowed",
  409: "Conflict",
  412: "Precondition failed",
  413: "Payload too large",
  415: "Unsupported media type",
  422: "Unprocessable definition",
  429: "Too many requests",
  500: "Internal error",
  503: "Service unavailable",
};

/** One problem located in the request: `path` is `steps[1].effects[0].product` style. */
export interface FieldError {
  path: string;
  message: string;
}

/**
 * An expected failure with a stable code. Thrown from handlers and middleware and
 * rendered once by the app's error handler as RFC 9457 problem+json.
 */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly errors: FieldError[] = [],
    readonly headers: Record<string, string> = {},
    /** RFC 9457 extension members, e.g. `referrers` of an in_use conflict. */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.status = ERROR_CODES[code];
  }
}

export interface ProblemDetails {
  type: "about:blank";
  status: number;
  code: ErrorCode;
  title: string;
  detail: string;
  errors?: FieldError[];
  requestId: string;
}

export function problemOf(error: ApiError, requestId: string): ProblemDetails {
  const problem: ProblemDetails = {
    type: "about:blank",
    status: error.status,
    code: error.code,
    title: TITLES[error.status] ?? "Error",
    detail: error.detail,
    requestId,
  };
  if (error.errors.length > 0) problem.errors = error.errors;
  return { ...problem, ...error.extensions } as ProblemDetails;
}

export function problemResponse(error: ApiError, requestId: string, extraHeaders: HeadersInit = {}): Response {
  const headers = new Headers(extraHeaders);
  headers.set("Content-Type", "application/problem+json");
  headers.set("X-Request-Id", requestId);
  for (const [k, v] of Object.entries(error.headers)) headers.set(k, v);
  return new Response(JSON.stringify(problemOf(error, requestId)), { status: error.status, headers });
}

/** Shorthand for a single-path validation failure. */
export function invalidAt(path: string, message: string, code: ErrorCode = "invalid_request"): ApiError {
  return new ApiError(code, path ? `${path}: ${message}` : message, [{ path, message }]);
}
