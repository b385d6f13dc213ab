// `npm run client:generate`: refreshes packages/client from the running code. Starts an
// instance the way the e2e tests do (a real `npm start` on a free port), fetches its OpenAPI
// document, writes packages/client/openapi.json and the types in src/schema.ts made from it,
// and stops the instance. test/e2e/client.test.ts fails until this has been run after a
// change to the API.
import path from "node:path";
import { documentPath, schemaPath, writeSnapshot } from "../packages/client/scripts/generate";
import { startInstance } from "../test/e2e/instance";

const instance = await startInstance();
try {
  const response = await fetch(`${instance.baseUrl}/api/loyalty/openapi.json`);
  if (!response.ok) throw new Error(`GET /api/loyalty/openapi.json: ${response.status} ${await response.text()}`);
  writeSnapshot(await response.json());
  for (const file of [documentPath, schemaPath]) console.log(`wrote ${path.relative(process.cwd(), file)}`);
} finally {
  await instance.stop();
}
