// A DO_WHILE runs its body once per iteration, and Conductor names each
// iteration's task instances `<ref>__<n>` (n from 1; 0 is outside any loop).
// The server names instances with it; clients and tools read it back.

/** The reference name of `ref`'s instance in iteration `iteration`. */
export function iterationRef(ref: string, iteration: number): string {
  return iteration > 0 ? `${ref}__${iteration}` : ref;
}

/**
 * The reference name in the definition of a task instance: without its
 * iteration's `__<n>`. Without the iteration, any trailing `__<digits>` goes.
 */
export function definitionRef(ref: string, iteration?: number): string {
  if (iteration === undefined) return ref.replace(/__\d+$/, "");
  if (iteration <= 0) return ref;
  const suffix = `__${iteration}`;
  return ref.endsWith(suffix) ? ref.slice(0, -suffix.length) : ref;
}
