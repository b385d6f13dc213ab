import { ROUTES, defineRouteMatrix } from "../helpers/admin-matrix";

// The second half of the Admin API security matrix (see admin-auth-matrix.test.ts).
defineRouteMatrix(ROUTES.filter((_, i) => i % 2 === 1));
