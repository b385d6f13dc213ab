import type { Config } from "../config";
import type { Db } from "../db/client";
import type { SpaceRow } from "../db/schema";
import type { Env } from "../env";
import type { Scope } from "../auth/scopes";

/** Who is calling the Admin API: the deployment's root key or one space's API key. */
export type AdminPrincipal =
  | { kind: "root" }
  | { kind: "key"; keyId: string; spaceId: string; scopes: readonly Scope[] };

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    db: Db;
    /** The space this request acts in (resolved by the admin or user middleware). */
    space: SpaceRow;
    principal: AdminPrincipal;
    /** The end user of a User API request: the verified token's subject. */
    userId: string;
    /** The user token's `iat` (seconds), checked against an erasure's tokensNotBefore. */
    tokenIssuedAt: number | undefined;
  };
};
