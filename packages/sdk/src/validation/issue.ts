// The shape of one validation finding, shared by every rule.
import { QUOTE_CHARS, shortened } from "@baton/json";

export interface ValidationIssue {
  /** JSON pointer into the definition, e.g. "/tasks/2/forkTasks/0/1/taskReferenceName". */
  path: string;
  message: string;
}

export interface ValidationResult {
  errors: ValidationIssue[];
  warnings: ValidationIssue[];
}

/** The most issues a refusal lists; the rest are counted. */
const LISTED_ISSUES = 20;

/**
 * Issues as one line for a refusal: at most twenty, then how many more, each
 * path's names shortened (a key may be a megabyte long).
 */
export function describeIssues(issues: readonly ValidationIssue[]): string {
  const listed = issues.slice(0, LISTED_ISSUES).map((i) => `${shortPath(i.path) || "/"}: ${i.message}`);
  const more = issues.length - listed.length;
  return listed.join("; ") + (more > 0 ? `; and ${more} more` : "");
}

function shortPath(path: string): string {
  return path.length <= QUOTE_CHARS
    ? path
    : path
        .split("/")
        .map((segment) => shortened(segment))
        .join("/");
}
