import type { Config } from "../config";
import { ApiError, invalidAt } from "../errors";
import { SLUG_PATTERN } from "./schemas";

/**
 * The space a request names (SPEC §3.1): the host `{slug}.{SPACE_HOST_SUFFIX}` when the
 * deployment sets a suffix, else the `X-Loyalty-Space` header. Both present and different
 * is 400 `space_mismatch`. `undefined` = the request names no space (the credential decides).
 */
export function namedSpaceSlug(request: Request, config: Config, pathSlug?: string): string | undefined {
  const names: Array<{ from: string; slug: string }> = [];
  if (config.spaceHostSuffix) {
    // A fully qualified name's trailing dot names the same host (`a.spaces.example.` is `a.spaces.example`).
    const host = new URL(request.url).hostname.toLowerCase().replace(/\.$/, "");
    const suffix = `.${config.spaceHostSuffix}`;
    if (host.endsWith(suffix)) {
      const label = host.slice(0, -suffix.length);
      if (!SLUG_PATTERN.test(label)) throw invalidAt("header.host", "the host does not name a valid space");
      names.push({ from: "host", slug: label });
    }
  }
  const header = request.headers.get("x-loyalty-space");
  if (header !== null) {
    if (!SLUG_PATTERN.test(header)) throw invalidAt("header.x-loyalty-space", "not a valid space slug");
    names.push({ from: "header", slug: header });
  }
  if (pathSlug !== undefined) {
    if (!SLUG_PATTERN.test(pathSlug)) throw invalidAt("path.slug", "not a valid space slug");
    names.push({ from: "path", slug: pathSlug });
  }
  const first = names[0];
  if (first && names.some((n) => n.slug !== first.slug)) {
    // Bad input names where it is (SPEC §10): each place that named a space.
    const where: Record<string, string> = { host: "header.host", header: "header.x-loyalty-space", path: "path.slug" };
    throw new ApiError(
      "space_mismatch",
      `the ${names.map((n) => n.from).join(" and ")} name different spaces`,
      names.map((n) => ({ path: where[n.from]!, message: `names the space '${n.slug}'` })),
    );
  }
  return first?.slug;
}
