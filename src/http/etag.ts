import { ApiError } from "../errors";

/** Definitions and spaces are versioned; the strong ETag is the version in quotes. */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/**
 * `If-Match` (RFC 9110 §13.1.1): `*` or a list of strong tags. Weak tags never match a
 * strong comparison. Absent header = no precondition.
 */
export function assertIfMatch(header: string | undefined, currentVersion: number | null): void {
  if (header === undefined) return;
  const value = header.trim();
  if (value === "*") {
    if (currentVersion === null) throw new ApiError("precondition_failed", "If-Match: * but the resource does not exist");
    return;
  }
  const tags = value.split(",").map((t) => t.trim());
  if (currentVersion === null || !tags.includes(etagOf(currentVersion))) {
    throw new ApiError("precondition_failed", "If-Match does not match the current ETag");
  }
}
