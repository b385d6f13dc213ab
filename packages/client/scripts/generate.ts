// OpenAPI 3.1 document → src/schema.ts: an openapi-typescript-style `paths` interface (per
// path and method: parameters, request body, responses by status and content type) and
// `components.schemas`, the shape openapi-fetch reads. It converts the JSON Schema that
// @hono/zod-openapi emits ($ref, objects, arrays, enum/const, anyOf/oneOf/allOf, type
// arrays for nullable, the primitive types); anything else becomes `unknown`. Output
// follows the document's order, so the same document always gives the same file.
//
//   tsx packages/client/scripts/generate.ts   regenerates src/schema.ts from openapi.json
//   npm run client:generate                   fetches openapi.json from a live instance first
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Item = { [key: string]: Json };

export const packageDir = path.resolve(import.meta.dirname, "..");
export const documentPath = path.join(packageDir, "openapi.json");
export const schemaPath = path.join(packageDir, "src/schema.ts");

const HEADER = `// generated — do not edit.
// From openapi.json (the loyalty engine's /api/loyalty/openapi.json) by scripts/generate.ts:
// \`npm run client:generate\` at the repository root refreshes both.
`;
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const PARAMETER_LOCATIONS = ["query", "header", "path", "cookie"];
const pad = (depth: number) => "    ".repeat(depth);

const isItem = (value: unknown): value is Item => typeof value === "object" && value !== null && !Array.isArray(value);
const key = (name: string) => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) || /^[1-9][0-9]*$/.test(name) ? name : JSON.stringify(name));
const literal = (value: Json) => JSON.stringify(value);

function comment(text: Json | undefined, depth: number): string {
  if (typeof text !== "string" || text.trim() === "") return "";
  const lines = text.trim().replaceAll("*/", "*\\/").split("\n");
  if (lines.length === 1) return `${pad(depth)}/** ${lines[0]} */\n`;
  return `${pad(depth)}/**\n${lines.map((line) => `${pad(depth)} * ${line}`.trimEnd()).join("\n")}\n${pad(depth)} */\n`;
}

/** A union or intersection of already rendered types, without repeats. */
function combine(types: string[], operator: "|" | "&"): string {
  const unique = [...new Set(types)];
  if (unique.length === 0) return operator === "|" ? "never" : "unknown";
  return unique.length === 1 ? unique[0]! : unique.map((type) => (topLevel(type, operator === "|" ? "&" : "|") ? `(${type})` : type)).join(` ${operator} `);
}

/** Whether `operator` appears outside any brackets in a rendered type (so it needs parentheses). */
function topLevel(type: string, operator: string): boolean {
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < type.length; i++) {
    const char = type[i]!;
    if (quoted) {
      if (char === "\\") i++;
      else if (char === '"') quoted = false;
    } else if (char === '"') quoted = true;
    else if ("{[(<".includes(char)) depth++;
    else if ("}])>".includes(char)) depth--;
    else if (depth === 0 && char === operator) return true;
  }
  return false;
}

/** A local `$ref` (`#/components/schemas/X`) as an indexed access into `components`. */
function refType(ref: string): string {
  if (!ref.startsWith("#/components/")) return "unknown";
  return `components${ref.slice("#/components/".length).split("/").map((part) => `[${JSON.stringify(part.replaceAll("~1", "/").replaceAll("~0", "~"))}]`).join("")}`;
}

export function schemaType(schema: Json | undefined, depth: number): string {
  if (schema === false) return "never";
  if (!isItem(schema)) return "unknown";
  if (typeof schema.$ref === "string") return refType(schema.$ref);
  if (schema.nullable === true) return combine([schemaType({ ...schema, nullable: false }, depth), "null"], "|");
  if ("const" in schema) return literal(schema.const!);
  if (Array.isArray(schema.enum)) return combine(schema.enum.map(literal), "|");
  for (const [keyword, operator] of [["anyOf", "|"], ["oneOf", "|"], ["allOf", "&"]] as const) {
    const parts = schema[keyword];
    if (Array.isArray(parts)) {
      const { [keyword]: _, ...rest } = schema;
      const own = Object.keys(rest).some((k) => ["type", "properties", "additionalProperties", "items"].includes(k)) ? [schemaType(rest, depth)] : [];
      return combine([...own, ...parts.map((part) => schemaType(part, depth))].filter((t) => !(operator === "&" && t === "unknown")), operator);
    }
  }
  if (Array.isArray(schema.type)) return combine(schema.type.map((type) => schemaType({ ...schema, type }, depth)), "|");
  switch (schema.type) {
    case "string":
      return "string";
    case "number":
    case "integer":
      return "number";
    case "boolean":
      return "boolean";
    case "null":
      return "null";
    case "array": {
      const item = schemaType(schema.items, depth);
      return topLevel(item, "|") || topLevel(item, "&") ? `(${item})[]` : `${item}[]`;
    }
    case "object":
      return objectType(schema, depth);
  }
  return schema.type === undefined && (isItem(schema.properties) || "additionalProperties" in schema) ? objectType(schema, depth) : "unknown";
}

function objectType(schema: Item, depth: number): string {
  const properties = isItem(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const lines = Object.entries(properties).map(
    ([name, property]) => `${isItem(property) ? comment(property.description, depth + 1) : ""}${pad(depth + 1)}${key(name)}${required.has(name) ? "" : "?"}: ${schemaType(property, depth + 1)};`,
  );
  const extra = schema.additionalProperties;
  const named = lines.length > 0;
  // Open objects get an index signature; next to named properties it must admit their types too.
  if (extra === undefined ? !named : extra !== false) {
    lines.push(`${pad(depth + 1)}[key: string]: ${named || extra === undefined || extra === true ? "unknown" : schemaType(extra, depth + 1)};`);
  }
  return lines.length === 0 ? "Record<string, never>" : `{\n${lines.join("\n")}\n${pad(depth)}}`;
}

/** `#/components/{parameters,requestBodies,responses}/X` references outside schemas, followed. */
function resolve(document: Item, value: Json | undefined): Item | undefined {
  let current = value;
  for (let hops = 0; isItem(current) && typeof current.$ref === "string" && hops < 10; hops++) {
    current = current.$ref
      .replace(/^#\//, "")
      .split("/")
      .reduce<Json | undefined>((node, part) => (isItem(node) ? node[part.replaceAll("~1", "/").replaceAll("~0", "~")] : undefined), document);
  }
  return isItem(current) ? current : undefined;
}

function contentType(content: Json | undefined, depth: number, optional: boolean): string {
  if (!isItem(content) || Object.keys(content).length === 0) return `${pad(depth)}content${optional ? "?" : ""}: never;`;
  const media = Object.entries(content).map(([type, value]) => `${pad(depth + 1)}${JSON.stringify(type)}: ${schemaType(isItem(value) ? value.schema : undefined, depth + 1)};`);
  return `${pad(depth)}content: {\n${media.join("\n")}\n${pad(depth)}};`;
}

function operationType(document: Item, pathItem: Item, operation: Item, depth: number): string {
  const parameters = [...(Array.isArray(pathItem.parameters) ? pathItem.parameters : []), ...(Array.isArray(operation.parameters) ? operation.parameters : [])]
    .map((parameter) => resolve(document, parameter))
    .filter((parameter): parameter is Item => parameter !== undefined);
  const locations = PARAMETER_LOCATIONS.map((location) => {
    // An operation's parameter replaces the path item's one with the same name and location.
    const own = [...new Map(parameters.filter((p) => p.in === location).map((p) => [String(p.name), p])).values()];
    if (own.length === 0) return `${pad(depth + 2)}${location}?: never;`;
    const fields = own.map(
      (p) => `${comment(p.description, depth + 3)}${pad(depth + 3)}${key(String(p.name))}${p.required === true ? "" : "?"}: ${schemaType(p.schema, depth + 3)};`,
    );
    return `${pad(depth + 2)}${location}${own.some((p) => p.required === true) ? "" : "?"}: {\n${fields.join("\n")}\n${pad(depth + 2)}};`;
  });
  const body = resolve(document, operation.requestBody);
  const requestBody = body
    ? `${pad(depth + 1)}requestBody${body.required === true ? "" : "?"}: {\n${contentType(body.content, depth + 2, false)}\n${pad(depth + 1)}};`
    : `${pad(depth + 1)}requestBody?: never;`;
  const responses = Object.entries(isItem(operation.responses) ? operation.responses : {}).map(([status, value]) => {
    const response = resolve(document, value) ?? {};
    return `${comment(response.description, depth + 2)}${pad(depth + 2)}${key(status)}: {\n${pad(depth + 3)}headers: { [name: string]: unknown };\n${contentType(response.content, depth + 3, true)}\n${pad(depth + 2)}};`;
  });
  return [
    "{",
    `${pad(depth + 1)}parameters: {\n${locations.join("\n")}\n${pad(depth + 1)}};`,
    requestBody,
    `${pad(depth + 1)}responses: {\n${responses.join("\n")}\n${pad(depth + 1)}};`,
    `${pad(depth)}}`,
  ].join("\n");
}

/** The whole src/schema.ts for an OpenAPI document. */
export function generateSchema(document: Item): string {
  const paths = Object.entries(isItem(document.paths) ? document.paths : {}).map(([route, value]) => {
    const pathItem = resolve(document, value) ?? {};
    const methods = METHODS.filter((method) => isItem(pathItem[method])).map((method) => {
      const operation = pathItem[method] as Item;
      return `${comment(operation.summary, 2)}${pad(2)}${method}: ${operationType(document, pathItem, operation, 2)};`;
    });
    return `${pad(1)}${JSON.stringify(route)}: {\n${methods.join("\n")}\n${pad(1)}};`;
  });
  const components = isItem(document.components) ? document.components : {};
  const schemas = Object.entries(isItem(components.schemas) ? components.schemas : {}).map(
    ([name, schema]) => `${isItem(schema) ? comment(schema.description, 2) : ""}${pad(2)}${key(name)}: ${schemaType(schema, 2)};`,
  );
  return [
    HEADER,
    `export interface paths {\n${paths.join("\n")}\n}`,
    "",
    `export interface components {\n${pad(1)}schemas: {\n${schemas.join("\n")}\n${pad(1)}};\n}`,
    "",
  ].join("\n");
}

/** The committed snapshot: openapi.json as fetched (pretty-printed) and the schema.ts made from it. */
export function writeSnapshot(document: Item): void {
  writeFileSync(documentPath, `${JSON.stringify(document, null, 2)}\n`);
  writeFileSync(schemaPath, generateSchema(document));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(schemaPath, generateSchema(JSON.parse(readFileSync(documentPath, "utf8"))));
  console.log(`wrote ${path.relative(process.cwd(), schemaPath)}`);
}
