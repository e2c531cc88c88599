// Conductor answers its definition lists whole: every version of every
// workflow with its body, every task definition, every event handler. They
// are read page by page, but held at once to answer, so past a bound the list
// is refused instead of built: one answer of gigabytes would take the
// server's memory (a publisher may store thousands of 4 MiB versions).
import type { ListPageOf } from "@baton/protocol";
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
