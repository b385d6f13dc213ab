import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/context";
import { withDefinitionSchemas } from "../../openapi/definitions";
import { withExamples } from "../../openapi/examples";

// The OpenAPI 3.1 document is generated from the same zod schemas that validate requests,
// so it cannot drift from the code. The reference page is Scalar's standalone viewer,
// loaded by the browser from its CDN (the Worker bundle stays small; the JSON document
// itself needs no network). The document is built once per isolate, with the examples of
// src/openapi/examples.ts (which test/routes/api-examples.test.ts sends to the routes).

const DOCS_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Loyalty engine API reference</title>
  </head>
  <body>
    <script id="api-reference" data-url="/api/loyalty/openapi.json"></script>
    <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1"></script>
    <noscript>The machine-readable reference is at <a href="/api/loyalty/openapi.json">/api/loyalty/openapi.json</a>.</noscript>
  </body>
</html>`;

const DOCUMENT = {
  openapi: "3.1.0",
  info: {
    title: "Loyalty engine",
    version: "0.1.0",
    description: "Admin API (`/api/loyalty/admin/`, API keys) and User API (`/api/loyalty/me/`, user JWTs). Errors are RFC 9457 problem+json with a stable `code`.",
  },
};

export function registerDocsRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "adminKey", {
    type: "http",
    scheme: "bearer",
    description: "ADMIN_ROOT_KEY or a space API key (`lk_…`)",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "userToken", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A user token: minted by the space or issued by the operator's identity provider",
  });
  // Built on the first request (every route is registered by then), once per isolate.
  let document: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  app.get("/api/loyalty/openapi.json", (c) =>
    c.json((document ??= withExamples(withDefinitionSchemas(app.getOpenAPI31Document(DOCUMENT), c.get("config"))))),
  );
  app.get("/api/loyalty/docs", (c) => {
    c.header("Content-Security-Policy", "default-src 'self' https://cdn.jsdelivr.net; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; font-src 'self' data: https://cdn.jsdelivr.net https://fonts.scalar.com");
    return c.html(DOCS_HTML);
  });
}
