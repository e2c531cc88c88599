// Reading a paged list whole: the CLI, the console and Conductor's REST lists
// (which answer everything at once) follow next_page_token to the end.

/** One page of a list, as a List* call answers it. */
export interface ListPageOf<T> {
  items: T[];
  nextPageToken: string;
}

/** Every item of a paged list: `read` is called with "" first, then with each page's next_page_token until one is empty. */
export async function everyPage<T>(read: (pageToken: string) => Promise<ListPageOf<T>>): Promise<T[]> {
  const out: T[] = [];
  let token = "";
  do {
    const page = await read(token);
    out.push(...page.items);
    token = page.nextPageToken;
  } while (token !== "");
  return out;
}

/**
 * Every item of a paged list asked for some `names` (a call names at most
 * `most`): every page of a call per `most` names, or of one call naming none
 * when `names` is empty.
 */
export async function everyPageOfNames<T>(names: string[], most: number, read: (names: string[], pageToken: string) => Promise<ListPageOf<T>>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i === 0 || i < names.length; i += most) {
    const some = names.slice(i, i + most);
    out.push(...(await everyPage((pageToken) => read(some, pageToken))));
  }
  return out;
}
