#!/usr/bin/env node
// `npm run receiver`: a local webhook receiver for the demo programme (npm run seed). It
// verifies every delivery's Standard Webhooks signature with the endpoint's secret (kept
// in .state/demo-webhook-secret by the seed) and prints the event, once per webhook-id.
//
//   RECEIVER_PORT  default 8788
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { Webhook } from "standardwebhooks";

const root = path.resolve(import.meta.dirname, "..");
const secret = readFileSync(path.join(root, ".state/demo-webhook-secret"), "utf8").trim();
const verifier = new Webhook(secret);
const seen = new Set();
const port = Number(process.env.RECEIVER_PORT || "8788");

createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", () => {
    try {
      const headers = /** @type {Record<string, string>} */ (Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)])));
      const payload = /** @type {{ type: string; userId: string; data: unknown }} */ (verifier.verify(body, headers));
      const id = String(request.headers["webhook-id"]);
      if (!seen.has(id)) {
        seen.add(id);
        console.log(`${payload.type}  user=${payload.userId}  ${JSON.stringify(payload.data)}`);
      }
      response.writeHead(204).end();
    } catch (error) {
      console.error(`refused a delivery: ${/** @type {Error} */ (error).message}`);
      response.writeHead(400).end();
    }
  });
}).listen(port, "127.0.0.1", () => console.log(`Receiving verified webhooks on http://127.0.0.1:${port}/webhooks`));
