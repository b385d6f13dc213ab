import { defineAdminIsolation } from "../helpers/isolation-admin";

// The second half of the Admin API isolation matrix (see isolation-admin.test.ts).
defineAdminIsolation("isolation-admin-2.test.ts", (_c, i) => i % 2 === 1);
