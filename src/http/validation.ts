import type { z } from "zod";
import { ApiError, type FieldError } from "../errors";
import { formatPath } from "./paths";

// zod issues → the problem+json `errors` list. Body paths are bare (`steps[0].name`);
// other parts of the request are prefixed (`query.limit`, `path.slug`, `header.x-…`),
// so a path always names one place in the request.

export type RequestPart = "json" | "query" | "param" | "header" | "cookie" | "form";

const PREFIX: Record<RequestPart, string> = {
  json: "",
  form: "",
  query: "query",
  param: "path",
  header: "header",
  cookie: "cookie",
};

export function fieldErrorsOf(error: z.ZodError, part: RequestPart = "json"): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of error.issues) {
    const base = [...(PREFIX[part] ? [PREFIX[part]] : []), ...issue.path];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) errors.push({ path: formatPath([...base, key]), message: "unknown field" });
    } else {
      errors.push({ path: formatPath(base), message: issue.message });
    }
  }
  return errors;
}

export function validationError(error: z.ZodError, part: RequestPart = "json"): ApiError {
  const errors = fieldErrorsOf(error, part);
  const first = errors[0];
  const detail = first ? (first.path ? `${first.path}: ${first.message}` : first.message) : "invalid request";
  return new ApiError("invalid_request", detail, errors);
}
