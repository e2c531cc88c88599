// A run's input checked against its flow's declared inputs before it starts:
// the definition's `inputSchema` (Orkes Conductor's field: a SchemaDef whose
// `data` is a JSON Schema), enforced unless `enforceSchema` is false. A start
// missing a required input is refused with the missing names, instead of
// failing later in a worker. Definitions without an inputSchema start as before.
// The schema is compiled and checked in the queries pool (sandbox/json-schema.ts),
// never on the thread that serves calls.
import type { WorkflowDef } from "@baton/sdk";
import type { JsonObject } from "../decider/model.js";
import { enforcedSchema } from "../runtime/definition-check.js";
import { QueryError, type Queries } from "../sandbox/queries.js";
import { invalid } from "./errors.js";

/** Refuses (INVALID_ARGUMENT) an input that does not satisfy the definition's enforced inputSchema. */
export async function checkRunInput(def: WorkflowDef, input: JsonObject, queries: Pick<Queries, "checkInput">): Promise<void> {
  const schema = enforcedSchema(def) as JsonObject | undefined;
  if (!schema) return;
  const label = `${def.name} version ${def.version ?? 1}`;
  // Conductor merges inputTemplate's defaults under the input: a default satisfies a required input.
  const template = (def as { inputTemplate?: unknown }).inputTemplate;
  const merged = template && typeof template === "object" ? { ...(template as JsonObject), ...input } : input;
  let checked: { invalidSchema?: string; refused?: string };
  try {
    checked = await queries.checkInput(schema, merged);
  } catch (error) {
    if (!(error instanceof QueryError)) throw error;
    throw invalid(
      `${label} could not check the input against its inputSchema (${error.message}): simplify the schema, or set enforceSchema: false in the definition`,
    );
  }
  if (checked.invalidSchema !== undefined)
    throw invalid(`${label} has an inputSchema that is not a valid JSON Schema (${checked.invalidSchema}): fix the definition and register it again`);
  if (checked.refused !== undefined)
    throw invalid(`${label} refused the input: ${checked.refused} (its inputSchema; enforceSchema: false in the definition turns the check off)`);
}
