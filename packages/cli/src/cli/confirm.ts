// Asking before a command destroys something. On a terminal the question goes
// to stderr (stdout keeps the result, -o json included) and the answer comes
// from stdin; without one (CI, a script, a pipe) nobody can answer, so the
// command refuses unless it was given --yes.
import { createInterface } from "node:readline/promises";

/** Whether someone at a terminal can be asked: stdin and stderr are both one. */
export function canAsk(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/** Asks `question` (ending in `[y/N]`); true for y or yes, false for anything else, an empty line or end of input. */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const closed = new Promise<string>((resolve) => rl.once("close", () => resolve("")));
    const answer = await Promise.race([rl.question(question), closed]);
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
