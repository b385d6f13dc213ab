/** API timestamps are always UTC with milliseconds (SPEC §2). */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Validates an IANA zone the way workerd will use it: by building a formatter. */
export function isValidTimeZone(zone: string): boolean {
  if (zone.length === 0 || zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
