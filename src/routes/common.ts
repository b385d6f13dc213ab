import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../http/context";
import { validationError, type RequestPart } from "../http/validation";

/** Every router is built this way, so every validation failure becomes the same 400. */
export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error as z.ZodError, result.target as RequestPart);
    },
  });
}

export const problemSchema = z
  .object({
    type: z.string(),
    status: z.number().int(),
    code: z.string().openapi({ description: "stable machine code; see docs/errors.md" }),
    title: z.string(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    requestId: z.string(),
  })
  .openapi("Problem");

const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: problemSchema } },
});

/** Error responses shared by every route, for the OpenAPI document. */
export const errorResponses = {
  400: problem("Malformed JSON or schema violation"),
  401: problem("Missing or invalid credential"),
  403: problem("The credential lacks the scope or belongs to another space"),
  404: problem("Not found"),
} as const;

export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export const jsonRequestBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

export const mergePatchBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema }, "application/merge-patch+json": { schema } },
});

export const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(1024).optional(),
});

export const pageSchema = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), nextCursor: z.string().nullable() });

/** Rows were fetched with `limit + 1`: the extra row only says another page exists. */
export function pageOf<Row, Item>(
  rows: Row[],
  limit: number,
  toItem: (row: Row) => Item,
  cursorOf: (row: Row) => string,
): { data: Item[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { data: page.map(toItem), nextCursor: rows.length > limit && last ? cursorOf(last) : null };
}

export const adminSecurity = [{ adminKey: [] }];
export const userSecurity = [{ userToken: [] }];

export function location(c: Context, path: string): string {
  return new URL(path, c.req.url).pathname;
}
