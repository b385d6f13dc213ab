import { z } from "zod";
import type { Env } from "../env";
import { log } from "../http/log";
import type { BatchHandler } from "../queue/consumer";
import type { DirectoryUpdate } from "./entry";
import { applyDirectoryUpdates } from "./store";

// The index queue's `directory` messages (SPEC §5.8): directory updates from the users'
// Durable Objects, applied a whole batch per D1 batch. A malformed update can never
// succeed, so it is logged and dropped; a D1 failure throws and the batch is retried
// (a malformed message in it too, dropped again on the next delivery).

const isoOrNull = z.string().max(40).nullable();
const updateSchema = z.object({
  spaceId: z.string().min(1).max(64),
  userId: z.string().min(1).max(128),
  generation: z.number().int().min(0),
  revision: z.number().int().min(1),
  createdAt: isoOrNull,
  lastSeenAt: isoOrNull,
  segments: z.array(z.string().min(1).max(64)).max(1000),
});

export const directoryBatchHandler: BatchHandler = async (messages, env: Env) => {
  const updates: DirectoryUpdate[] = [];
  for (const message of messages) {
    const parsed = updateSchema.safeParse(message.body);
    if (parsed.success) updates.push(parsed.data);
    else log(env, "error", "queue.directory_poison", { key: message.key, issues: parsed.error.issues.length });
  }
  await applyDirectoryUpdates(env.DB, updates, Date.now());
};
