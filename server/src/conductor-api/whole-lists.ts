// Conductor answers its lists whole: every version of every workflow with its
// body, every task definition, every event handler; a search's start + size
// runs (up to 10,000), the runs of correlation ids with their tasks. They are
// read page by page, but held at once to answer, so past a bound the list is
// refused instead of built: one answer of gigabytes would take the server's
// memory (a publisher may store thousands of 4 MiB versions, and a run holds
// up to 2 MiB of input, of output and of variables).
import type { ListPageOf, Workflow } from "@baton/protocol";
import { HttpError } from "./errors.js";

const MiB = 1024 * 1024;
/** The most definition bytes one whole-list answer holds. */
export const WHOLE_LIST_BYTES = 64 * MiB;

/** Every item of a paged list, refused (400, saying how to read it instead) once their bytes pass WHOLE_LIST_BYTES. */
export async function wholeList<T>(
  what: string,
  read: (pageToken: string) => Promise<ListPageOf<T>>,
  bytesOf: (item: T) => number,
  inPages: string,
): Promise<T[]> {
  const out: T[] = [];
  let bytes = 0;
  let token = "";
  do {
    const page = await read(token);
    for (const item of page.items) bytes += bytesOf(item);
    if (bytes > WHOLE_LIST_BYTES) {
      throw new HttpError(
        400,
        `the ${what} hold more than ${WHOLE_LIST_BYTES / MiB} MiB, more than this server answers in one list: read them in pages (${inPages})`,
      );
    }
    out.push(...page.items);
    token = page.nextPageToken;
  } while (token !== "");
  return out;
}

/** What a run adds to an answer: its payloads, its tasks' and its definition when read with it (the rest is small beside them). */
function runBytes(run: Workflow): number {
  let bytes = run.inputJson.length + run.outputJson.length + run.variablesJson.length + run.workflowDefinitionJson.length;
  for (const task of run.tasks) bytes += task.inputJson.length + task.outputJson.length;
  return bytes;
}

/** A counter of the runs one answer holds: past WHOLE_LIST_BYTES it refuses (400), saying `narrow` (what to ask instead). */
export function runsWithinBytes(narrow: string): (run: Workflow) => void {
  let bytes = 0;
  return (run) => {
    bytes += runBytes(run);
    if (bytes > WHOLE_LIST_BYTES) {
      throw new HttpError(400, `the runs found hold more than ${WHOLE_LIST_BYTES / MiB} MiB of payloads, more than this server answers at once: ${narrow}`);
    }
  };
}
