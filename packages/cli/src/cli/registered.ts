// Whether a workflow name is registered: a command that found nothing for a
// name no workflow has is more likely looking at a typo than an empty history.
import type { Context } from "./context.js";

/** Warns (on stderr) when no workflow of that name is registered; `also` says what to add. */
export async function warnUnregistered(ctx: Context, name: string, also = ""): Promise<void> {
  const known = await ctx
    .call((c) => c.getWorkflowDef(name))
    .then(
      () => true,
      (e: unknown) => !/^not found/.test((e as Error).message),
    );
  if (!known) ctx.out.warn(`no workflow ${JSON.stringify(name)} is registered: check the name (\`baton defs\` lists them)${also}`);
}
