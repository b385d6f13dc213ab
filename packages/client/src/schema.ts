// generated — do not edit.
// From openapi.json (the loyalty engine's /api/loyalty/openapi.json) by scripts/generate.ts:
// `npm run client:generate` at the repository root refreshes both.

export interface paths {
    "/api/loyalty/health": {
        /** Liveness */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The service is up */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Health"];
                    };
                };
            };
        };
    };
    "/api/loyalty/spaces/{slug}/.well-known/jwks.json": {
        /** A space's user-token public keys */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    slug: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The active key and keys retired in the last 24 h */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Jwks"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/.well-known/jwks.json": {
        /** The public keys of the space named by host or X-Loyalty-Space (default: `default`) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The active key and keys retired in the last 24 h */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Jwks"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/spaces": {
        /** List spaces (root key) */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page of spaces */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["Space"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create a space (root key) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["CreateSpace"];
                };
            };
            responses: {
                /** The new space */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Space"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Malformed JSON or schema violation */
                409: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/spaces/{slug}": {
        /** Read a space's settings */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    slug: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The space */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Space"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Change a space's settings (JSON merge patch) */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    slug: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["SpacePatch"];
                    "application/merge-patch+json": components["schemas"]["SpacePatch"];
                };
            };
            responses: {
                /** The updated space */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Space"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/spaces/{slug}/rotate-signing-key": {
        /** Rotate the space's user-token signing key */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    slug: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The new key and the retired one */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["SigningKeyRotation"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/api-keys": {
        /** List the space's API keys (without secrets) */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page of keys, oldest first */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["ApiKey"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create an API key (the secret is returned once) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["CreateApiKey"];
                };
            };
            responses: {
                /** The key and its secret */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["CreatedApiKey"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/api-keys/{id}": {
        /** Read one API key (without its secret) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The key */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["ApiKey"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Revoke an API key (effective immediately; idempotent) */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Revoked */
                204: {
                    headers: { [name: string]: unknown };
                    content?: never;
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}/token": {
        /** Mint a User API token for a user */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["MintUserToken"];
                };
            };
            responses: {
                /** A signed ES256 JWT */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["UserToken"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/metrics": {
        /** List metrics */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                    /** `archived` also lists archived definitions */
                    include?: "archived";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page, by id */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["Definition"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create a metrics definition */
        post: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["MetricBody"];
                };
            };
            responses: {
                /** The metrics definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/metrics/{id}": {
        /** Read a metrics definition */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The metrics definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create or replace a metrics definition */
        put: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["MetricBody"];
                };
            };
            responses: {
                /** The metrics definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** The metrics definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Archive a metrics definition */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Done */
                204: {
                    headers: { [name: string]: unknown };
                    content?: never;
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Change a metrics definition (JSON merge patch) */
        patch: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                    "application/merge-patch+json": {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** The metrics definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/products": {
        /** List products */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                    /** `archived` also lists archived definitions */
                    include?: "archived";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page, by id */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["Definition"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create a products definition */
        post: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["ProductBody"];
                };
            };
            responses: {
                /** The products definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/products/{id}": {
        /** Read a products definition */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The products definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create or replace a products definition */
        put: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["ProductBody"];
                };
            };
            responses: {
                /** The products definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** The products definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Archive a products definition */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Done */
                204: {
                    headers: { [name: string]: unknown };
                    content?: never;
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Change a products definition (JSON merge patch) */
        patch: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                    "application/merge-patch+json": {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** The products definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/segments": {
        /** List segments */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                    /** `archived` also lists archived definitions */
                    include?: "archived";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page, by id */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["Definition"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create a segments definition */
        post: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["SegmentBody"];
                };
            };
            responses: {
                /** The segments definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/segments/{id}": {
        /** Read a segments definition */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The segments definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create or replace a segments definition */
        put: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["SegmentBody"];
                };
            };
            responses: {
                /** The segments definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** The segments definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Archive a segments definition */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Done */
                204: {
                    headers: { [name: string]: unknown };
                    content?: never;
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Change a segments definition (JSON merge patch) */
        patch: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                    "application/merge-patch+json": {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** The segments definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/ladders": {
        /** List ladders */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                    /** `archived` also lists archived definitions */
                    include?: "archived";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page, by id */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["Definition"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create a ladders definition */
        post: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["LadderBody"];
                };
            };
            responses: {
                /** The ladders definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/ladders/{id}": {
        /** Read a ladders definition */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The ladders definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create or replace a ladders definition */
        put: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["LadderBody"];
                };
            };
            responses: {
                /** The ladders definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** The ladders definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Archive a ladders definition */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Done */
                204: {
                    headers: { [name: string]: unknown };
                    content?: never;
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Change a ladders definition (JSON merge patch) */
        patch: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                    "application/merge-patch+json": {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** The ladders definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/streaks": {
        /** List streaks */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                    /** `archived` also lists archived definitions */
                    include?: "archived";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page, by id */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["Definition"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create a streaks definition */
        post: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["StreakBody"];
                };
            };
            responses: {
                /** The streaks definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/streaks/{id}": {
        /** Read a streaks definition */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The streaks definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create or replace a streaks definition */
        put: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["StreakBody"];
                };
            };
            responses: {
                /** The streaks definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** The streaks definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Archive a streaks definition */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Done */
                204: {
                    headers: { [name: string]: unknown };
                    content?: never;
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Change a streaks definition (JSON merge patch) */
        patch: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                    "application/merge-patch+json": {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** The streaks definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/triggers": {
        /** List triggers */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                    /** `archived` also lists archived definitions */
                    include?: "archived";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page, by id */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["Definition"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create a triggers definition */
        post: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["TriggerBody"];
                };
            };
            responses: {
                /** The triggers definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/triggers/{id}": {
        /** Read a triggers definition */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The triggers definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create or replace a triggers definition */
        put: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["TriggerBody"];
                };
            };
            responses: {
                /** The triggers definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** The triggers definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Erase a triggers definition */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Done */
                204: {
                    headers: { [name: string]: unknown };
                    content?: never;
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Change a triggers definition (JSON merge patch) */
        patch: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                    "application/merge-patch+json": {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** The triggers definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/campaigns": {
        /** List campaigns */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                    /** `archived` also lists archived definitions */
                    include?: "archived";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page, by id */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["Definition"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create a campaigns definition */
        post: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["CampaignBody"];
                };
            };
            responses: {
                /** The campaigns definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/campaigns/{id}": {
        /** Read a campaigns definition */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The campaigns definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create or replace a campaigns definition */
        put: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["CampaignBody"];
                };
            };
            responses: {
                /** The campaigns definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** The campaigns definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Archive a campaigns definition */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Done */
                204: {
                    headers: { [name: string]: unknown };
                    content?: never;
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Change a campaigns definition (JSON merge patch) */
        patch: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                    "application/merge-patch+json": {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** The campaigns definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/webhooks": {
        /** List webhooks */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                    /** `archived` also lists archived definitions */
                    include?: "archived";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page, by id */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["Definition"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create a webhooks definition */
        post: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["WebhookBody"];
                };
            };
            responses: {
                /** The webhooks definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/webhooks/{id}": {
        /** Read a webhooks definition */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The webhooks definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Create or replace a webhooks definition */
        put: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["WebhookBody"];
                };
            };
            responses: {
                /** The webhooks definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** The webhooks definition */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Erase a webhooks definition */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Done */
                204: {
                    headers: { [name: string]: unknown };
                    content?: never;
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Change a webhooks definition (JSON merge patch) */
        patch: {
            parameters: {
                query?: {
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                    "application/merge-patch+json": {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** The webhooks definition */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Definition"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/programme": {
        /** Export the space's programme */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The programme document */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Programme"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Apply a programme document atomically */
        put: {
            parameters: {
                query?: {
                    prune?: "true" | "false";
                    dryRun?: "true" | "false";
                    /** false: the background recompute this change starts sends no webhooks or pushes (a backfill) */
                    notify?: "true" | "false";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["Programme"];
                };
            };
            responses: {
                /** What changed (or would change) */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["ProgrammeDiff"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/events": {
        /** Ingest an event (idempotent by id) */
        post: {
            parameters: {
                query?: {
                    dryRun?: "true" | "false";
                    explain?: "true" | "false";
                    async?: "true" | "false";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["Event"];
                };
            };
            responses: {
                /** Already applied */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["EventOutcome"];
                    };
                };
                /** Applied */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["EventOutcome"];
                    };
                };
                /** Accepted for asynchronous processing */
                202: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["EventsAccepted"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/events/batch": {
        /** Ingest up to 500 events */
        post: {
            parameters: {
                query?: {
                    dryRun?: "true" | "false";
                    explain?: "true" | "false";
                    async?: "true" | "false";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["EventBatch"];
                };
            };
            responses: {
                /** One result per event */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["EventBatchResults"];
                    };
                };
                /** Accepted for asynchronous processing */
                202: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["EventsAccepted"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}": {
        /** A user's whole state */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The user document */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Set a user's profile (creates the user if new) */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["UserProfile"];
                };
            };
            responses: {
                /** Updated */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Created */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Erase a user (every row of their state; idempotent) */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Erased */
                204: {
                    headers: { [name: string]: unknown };
                    content?: never;
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Change a user's profile (JSON merge patch) */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["UserProfilePatch"];
                    "application/merge-patch+json": components["schemas"]["UserProfilePatch"];
                };
            };
            responses: {
                /** Updated */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Created */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}/metrics/{metric}/adjust": {
        /** Adjust a balance (never clamped) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                    metric: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["MetricAdjustment"];
                };
            };
            responses: {
                /** The new balance */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}/metrics/{metric}/transactions": {
        /** A metric's ledger, newest first */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                };
                header?: never;
                path: {
                    userId: string;
                    metric: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page of ledger entries */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}/products": {
        /** Grant a product */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["ProductGrant"];
                };
            };
            responses: {
                /** Held now */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}/products/{product}": {
        /** Revoke a product (all, or ?quantity=n) */
        delete: {
            parameters: {
                query?: {
                    quantity?: number;
                };
                header?: never;
                path: {
                    userId: string;
                    product: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Held now */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}/redemptions": {
        /** Redeem a reward for a user */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["Redemption"];
                };
            };
            responses: {
                /** The redemption: { id, product, quantity, price, code?, codes?, balance } */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}/redemptions/{id}": {
        /** A redemption */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** { id, product, quantity, price, codes, status: completed | cancelled, createdAt, cancelledAt } */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}/redemptions/{id}/cancel": {
        /** Cancel a redemption */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["RedemptionCancel"];
                };
            };
            responses: {
                /** The cancellation */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}/events/{eventId}/reverse": {
        /** Reverse an event */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                    eventId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** { eventId, ledger, productsRevoked, redemptionsCancelled, completionsUncounted, outcomeKept, skipped } */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}/streaks/{id}/restore": {
        /** Restore a broken streak */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The restored streak */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}/segments/{segmentId}": {
        /** Add a user to a static segment */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                    segmentId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The membership */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Remove a user from a static segment */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                    segmentId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Not a member (any more) */
                204: {
                    headers: { [name: string]: unknown };
                    content?: never;
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}/activity": {
        /** Processed events and their outcomes, newest first */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                };
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page of activity */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users": {
        /** The user directory */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                    /** Only user ids starting with this (taken literally) */
                    q?: string;
                    /** Only members of this segment */
                    segment?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page of users */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["DirectoryUser"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/segments/{id}/users": {
        /** A segment's members */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                    /** Only user ids starting with this (taken literally) */
                    q?: string;
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page of members */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["DirectoryUser"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/jobs": {
        /** Background jobs, newest first */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page of jobs */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["Job"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/jobs/{id}": {
        /** A background job's progress */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The job */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Job"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/products/{id}/codes": {
        /** Add codes to a reward's pool */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["CodeUpload"];
                };
            };
            responses: {
                /** The pool */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["CodePool"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/webhooks/{id}/deliveries": {
        /** An endpoint's deliveries, newest first */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                    status?: "pending" | "delivered" | "failed" | "skipped";
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page of deliveries */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: components["schemas"]["Delivery"][];
                            nextCursor: string | null;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/webhooks/{id}/deliveries/{deliveryId}": {
        /** One delivery with its attempts */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    deliveryId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The delivery */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": components["schemas"]["Delivery"];
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/webhooks/{id}/deliveries/{deliveryId}/retry": {
        /** Deliver again (same webhook-id) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    deliveryId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Queued */
                202: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/webhooks/{id}/rotate-secret": {
        /** Rotate the signing secret */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** { secret, previousSecretExpiresAt } */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/admin/users/{userId}/push-subscriptions": {
        /** Register a Web Push subscription for a user */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["PushSubscription"];
                };
            };
            responses: {
                /** Replaced */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            endpoint: string;
                        };
                    };
                };
                /** Added */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            endpoint: string;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Remove a user's Web Push subscription */
        delete: {
            parameters: {
                query: {
                    endpoint: string;
                };
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Removed (or was not there) */
                204: {
                    headers: { [name: string]: unknown };
                    content?: never;
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/catalog": {
        /** Rewards the caller can redeem */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The catalogue */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: {
                                [key: string]: unknown;
                            }[];
                        };
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me": {
        /** The caller's profile */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The caller */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/metrics": {
        /** Balances */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Balances and lifetime totals */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: {
                                [key: string]: unknown;
                            }[];
                        };
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/metrics/{id}": {
        /** One balance */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The balance */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/metrics/{id}/transactions": {
        /** The ledger of one metric, newest first */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page of ledger entries */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/rewards": {
        /** Products held */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Badges, rewards and items */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: {
                                [key: string]: unknown;
                            }[];
                        };
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/segments": {
        /** Segments the caller belongs to */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Segments */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: {
                                [key: string]: unknown;
                            }[];
                        };
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/ladders": {
        /** Levels */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Ladders */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: {
                                [key: string]: unknown;
                            }[];
                        };
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/ladders/{id}": {
        /** One level */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The ladder */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/streaks": {
        /** Streaks as of now */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Streaks */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: {
                                [key: string]: unknown;
                            }[];
                        };
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/streaks/{id}": {
        /** One streak as of now */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The streak */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/campaigns": {
        /** Visible campaigns with progress */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Campaigns */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            data: {
                                [key: string]: unknown;
                            }[];
                        };
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/campaigns/{id}": {
        /** One campaign with progress */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The campaign */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/activity": {
        /** The caller's recent outcomes */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** A page of activity */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/push-config": {
        /** What an app needs to subscribe to Web Push */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** The space's VAPID public key */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            vapidPublicKey: string;
                            allowedHosts: string[];
                        };
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
    "/api/loyalty/me/push-subscriptions": {
        /** Register this device for Web Push */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["PushSubscription"];
                };
            };
            responses: {
                /** Replaced */
                200: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            endpoint: string;
                        };
                    };
                };
                /** Added */
                201: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/json": {
                            endpoint: string;
                        };
                    };
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /** Unregister a device */
        delete: {
            parameters: {
                query: {
                    endpoint: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** Removed (or was not there) */
                204: {
                    headers: { [name: string]: unknown };
                    content?: never;
                };
                /** Malformed JSON or schema violation */
                400: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Missing or invalid credential */
                401: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** The credential lacks the scope or belongs to another space */
                403: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** Not found */
                404: {
                    headers: { [name: string]: unknown };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
    };
}

export interface components {
    schemas: {
        Health: {
            status: "ok";
        };
        Jwks: {
            keys: {
                [key: string]: unknown;
            }[];
        };
        Problem: {
            type: string;
            status: number;
            /** stable machine code; see docs/errors.md */
            code: string;
            title: string;
            detail: string;
            errors?: {
                path: string;
                message: string;
            }[];
            requestId: string;
        };
        Space: {
            id: string;
            slug: string;
            name: string;
            timezone: string;
            auth: components["schemas"]["SpaceAuthView"];
            publicAttributes: string[];
            corsOrigins: string[];
            push: {
                allowedHosts: string[];
                contact: string;
                gatewayUrl: string | null;
                /** the secret itself is never returned */
                gatewaySecretSet?: boolean;
            };
            userTokenIssuer: string;
            userTokenAudience: string;
            version: number;
            createdAt: string;
            updatedAt: string;
        };
        SpaceAuthView: {
            issuer: string;
            audience: string;
            userIdClaim: string;
            jwks?: {
                keys: {
                    [key: string]: unknown;
                }[];
            };
            jwksUrl?: string;
            /** the secret itself is never returned */
            hs256SecretSet?: boolean;
        } | null;
        CreateSpace: {
            name: string;
            timezone?: string;
            auth?: components["schemas"]["SpaceAuth"];
            publicAttributes?: string[];
            corsOrigins?: string[];
            push?: components["schemas"]["SpacePush"];
            slug: string;
        };
        SpaceAuth: {
            issuer: string;
            audience: string;
            userIdClaim?: string;
            jwks?: {
                keys: {
                    kty: "RSA" | "EC" | "OKP";
                    kid?: string;
                    alg?: string;
                    [key: string]: unknown;
                }[];
            };
            jwksUrl?: string;
            hs256Secret?: string;
        } | null;
        SpacePush: {
            allowedHosts?: string[];
            contact?: string;
            gatewayUrl?: string | null;
            /** write-only: answers say gatewaySecretSet instead */
            gatewaySecret?: string;
        };
        /** JSON merge patch (RFC 7396) of a space's settings */
        SpacePatch: {
            id?: string;
            slug?: string;
            name?: unknown;
            timezone?: unknown;
            auth?: unknown;
            publicAttributes?: unknown;
            corsOrigins?: unknown;
            push?: unknown;
        };
        SigningKeyRotation: {
            kid: string;
            alg: string;
            createdAt: string;
            retired: {
                kid: string;
                retiredAt: string;
                verifiesUntil: string;
            }[];
        };
        CreatedApiKey: components["schemas"]["ApiKey"] & {
            /** shown once; store it now */
            secret: string;
        };
        ApiKey: {
            id: string;
            name: string;
            scopes: ("admin" | "events:write" | "users:write" | "read")[];
            createdAt: string;
            revokedAt: string | null;
        };
        CreateApiKey: {
            name: string;
            scopes: ("admin" | "events:write" | "users:write" | "read")[];
        };
        UserToken: {
            token: string;
            expiresAt: string;
        };
        MintUserToken: {
            ttlSeconds?: number;
        };
        /** The definition's body plus `id`, `version`, `createdAt`, `updatedAt` and `archivedAt` */
        Definition: {
            [key: string]: unknown;
        };
        /** `{ metrics, products, segments, ladders, streaks, triggers, campaigns, webhooks }`, each a list of definitions with their ids */
        Programme: {
            [key: string]: {
                [key: string]: unknown;
            }[];
        };
        ProgrammeDiff: {
            created: string[];
            updated: string[];
            unchanged: string[];
            archived: string[];
            /** changed definitions that need every user recomputed */
            recompute: string[];
            /** the background recompute job started for them (also in the Loyalty-Job header) */
            job: string | null;
            dryRun: boolean;
            /** signing secrets of webhooks created by this apply (shown once) */
            secrets: {
                [key: string]: string;
            };
        };
        EventOutcome: {
            eventId: string;
            userId: string;
            duplicate: boolean;
            outcome: {
                [key: string]: unknown;
            } | null;
        };
        EventsAccepted: {
            accepted: string[];
            rejected: {
                index: number;
                error: {
                    [key: string]: unknown;
                };
            }[];
        };
        Event: {
            id?: string;
            userId: string;
            type: string;
            occurredAt?: string;
            data?: {
                [key: string]: unknown;
            };
            silent?: boolean;
        };
        EventBatchResults: {
            results: {
                [key: string]: unknown;
            }[];
        };
        EventBatch: {
            events: unknown[];
        };
        UserProfile: {
            attributes?: {
                [key: string]: string | number | boolean | null | string[];
            };
            timezone?: string | null;
            locale?: string | null;
        };
        UserProfilePatch: {
            attributes?: {
                [key: string]: string | number | boolean | null | string[];
            };
            timezone?: string | null;
            locale?: string | null;
        };
        MetricAdjustment: {
            amount: number;
            reason: string;
        };
        ProductGrant: {
            product: string;
            quantity?: number;
        };
        Redemption: {
            product: string;
            quantity?: number;
        };
        RedemptionCancel: {
            restock?: boolean;
        };
        DirectoryUser: {
            userId: string;
            createdAt: string | null;
            lastSeenAt: string | null;
            segments: string[];
        };
        /** `{ id, type, status: running | finished | failed, reason, notify, total, processed, changed, failed, errors, createdAt, updatedAt, finishedAt }` */
        Job: {
            [key: string]: unknown;
        };
        CodePool: {
            product: string;
            added: number;
            available: number;
            allocated: number;
        };
        CodeUpload: {
            codes: string[];
        };
        /** `{ id (the webhook-id), kind, userId, eventType, status: pending | delivered | failed | skipped, attempts, lastStatusCode, lastError, lastLatencyMs, createdAt, updatedAt }` */
        Delivery: {
            [key: string]: unknown;
        };
        PushSubscription: {
            endpoint: string;
            expirationTime?: number | null;
            keys: {
                p256dh: string;
                auth: string;
            };
        };
        MetricBody: {
            name: string;
            description?: string | null;
            kind: "currency" | "counter" | "gauge";
            initial?: number;
            min?: number | null;
            max?: number | null;
            id?: string;
        };
        ProductBody: {
            type: "badge" | "reward" | "item";
            name: string;
            description?: string | null;
            imageUrl?: string | null;
            price?: {
                metric: string;
                amount: number;
            } | null;
            stock?: number | null;
            perUserLimit?: number | null;
            metadata?: {
                [key: string]: unknown;
            };
            id?: string;
        };
        Condition: {
            all?: components["schemas"]["Condition"][];
            any?: components["schemas"]["Condition"][];
            not?: components["schemas"]["Condition"];
            path?: string;
            op?: "eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "between" | "in" | "nin" | "contains" | "startsWith" | "exists";
            value?: unknown;
        };
        SegmentBody: {
            name: string;
            description?: string | null;
            type: "static" | "dynamic";
            rule?: components["schemas"]["Condition"] | null;
            id?: string;
        };
        LadderBody: {
            name: string;
            description?: string | null;
            metric: string;
            basis?: "lifetime" | "balance";
            demotion?: boolean;
            levels: {
                id: string;
                name: string;
                threshold: number;
            }[];
            id?: string;
        };
        StreakBody: {
            name: string;
            description?: string | null;
            period: "day" | "week";
            weekStart?: "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday" | "sunday";
            timezoneMode?: "user" | "fixed";
            timezone?: string | null;
            freezes?: {
                initial?: number;
                max?: number;
            };
            graceMinutes?: number;
            id?: string;
        };
        TriggerBody: {
            name: string;
            description?: string | null;
            eventType: string;
            conditions?: components["schemas"]["Condition"] | null;
            id?: string;
        };
        CampaignBody: {
            name: string;
            description?: string | null;
            imageUrl?: string | null;
            status?: "draft" | "active" | "paused" | "archived";
            startsAt?: string | null;
            endsAt?: string | null;
            acceptLateUntil?: string | null;
            priority?: number;
            audience?: {
                include?: string[];
                exclude?: string[];
            };
            visibility?: "visible" | "hidden";
            order?: "sequential" | "any";
            steps: {
                id: string;
                name: string;
                trigger: string | {
                    eventType: string;
                    conditions?: components["schemas"]["Condition"] | null;
                };
                target?: number;
                measure?: string | null;
                effects?: ({
                    type: "metric.add";
                    metric: string;
                    amount: number | {
                        path: string;
                        multiply?: number;
                        round?: "floor" | "ceil" | "nearest";
                        min?: number;
                        max?: number | null;
                    };
                } | {
                    type: "metric.set";
                    metric: string;
                    value: number;
                } | {
                    type: "product.grant";
                    product: string;
                    quantity?: number;
                } | {
                    type: "product.revoke";
                    product: string;
                    quantity?: number;
                } | {
                    type: "product.redeem";
                    product: string;
                    quantity?: number;
                } | {
                    type: "streak.checkin";
                    streak: string;
                } | {
                    type: "streak.freeze";
                    streak: string;
                    count?: number;
                } | {
                    type: "segment.add";
                    segment: string;
                } | {
                    type: "segment.remove";
                    segment: string;
                } | {
                    type: "attribute.set";
                    key: string;
                    value: string | number | boolean | null | string[];
                } | {
                    type: "event.emit";
                    eventType: string;
                    data?: {
                        [key: string]: unknown;
                    };
                } | {
                    type: "webhook.send";
                    webhook: string;
                    payload: string | number | boolean | null | unknown[] | {
                        [key: string]: unknown;
                    };
                } | {
                    type: "push.send";
                    title: string;
                    body: string;
                    url?: string | null;
                    data?: {
                        [key: string]: unknown;
                    } | null;
                })[];
            }[];
            effects?: ({
                type: "metric.add";
                metric: string;
                amount: number | {
                    path: string;
                    multiply?: number;
                    round?: "floor" | "ceil" | "nearest";
                    min?: number;
                    max?: number | null;
                };
            } | {
                type: "metric.set";
                metric: string;
                value: number;
            } | {
                type: "product.grant";
                product: string;
                quantity?: number;
            } | {
                type: "product.revoke";
                product: string;
                quantity?: number;
            } | {
                type: "product.redeem";
                product: string;
                quantity?: number;
            } | {
                type: "streak.checkin";
                streak: string;
            } | {
                type: "streak.freeze";
                streak: string;
                count?: number;
            } | {
                type: "segment.add";
                segment: string;
            } | {
                type: "segment.remove";
                segment: string;
            } | {
                type: "attribute.set";
                key: string;
                value: string | number | boolean | null | string[];
            } | {
                type: "event.emit";
                eventType: string;
                data?: {
                    [key: string]: unknown;
                };
            } | {
                type: "webhook.send";
                webhook: string;
                payload: string | number | boolean | null | unknown[] | {
                    [key: string]: unknown;
                };
            } | {
                type: "push.send";
                title: string;
                body: string;
                url?: string | null;
                data?: {
                    [key: string]: unknown;
                } | null;
            })[];
            repeat?: {
                limit?: number | null;
                every?: "day" | "week" | null;
                total?: number | null;
            };
            id?: string;
        };
        WebhookBody: {
            url: string;
            events: ("loyalty.user.created" | "loyalty.user.updated" | "loyalty.metric.changed" | "loyalty.product.granted" | "loyalty.product.revoked" | "loyalty.reward.redeemed" | "loyalty.redemption.cancelled" | "loyalty.step.completed" | "loyalty.campaign.completed" | "loyalty.ladder.level_changed" | "loyalty.streak.started" | "loyalty.streak.extended" | "loyalty.streak.freeze_used" | "loyalty.streak.broken" | "loyalty.streak.restored" | "loyalty.segment.entered" | "loyalty.segment.left" | "loyalty.event.reversed" | "*")[];
            enabled?: boolean;
            description?: string | null;
            id?: string;
        };
    };
}
