import { defineTamperMatrix } from "../helpers/isolation-cursors";

// The isolation matrix, cursors (issue #10, case 2): tampered and forged cursors, first half
// of the lists (the other half: isolation-cursors-tamper-2.test.ts). The cases are in defineTamperMatrix.

defineTamperMatrix(0, "isolation-cursors-tamper.test.ts");
