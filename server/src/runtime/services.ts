// What the engine needs beyond the store: the settings system tasks read, and
// the evaluator that runs user code (the JavaScript sandbox, jq, and the
// queries: JSONPath filters and JSON Schemas, each in a pool of worker
// threads) off the thread that serves calls.
import type { EvaluationOutcome, EvaluationRequest } from "../decider/evaluation.js";
import type { Json, JsonObject } from "../decider/model.js";
import type { SystemTaskServices } from "../decider/system-tasks/index.js";
import { createScriptEngine, type ScriptEngine } from "../sandbox/index.js";
import { createJq, type Jq } from "../sandbox/jq.js";
import { createQueries, type DEFAULT_QUERY_LIMITS, type Queries } from "../sandbox/queries.js";
import { MAX_VARIABLES_BYTES } from "../rules/variables.js";

export interface Evaluator {
  /** Carries out an evaluation a decision asked for. Never rejects: a failure is an outcome. */
  evaluate(request: EvaluationRequest): Promise<EvaluationOutcome>;
  /** Runs a script (an event handler's condition); rejects with the reason it failed. */
  evaluateScript(source: string, bindings: Json): Promise<Json>;
  close(): Promise<void>;
}

export interface EngineServices extends SystemTaskServices {
  evaluator: Evaluator;
  /** JSONPath filters and JSON Schemas, in their pool. */
  queries: Queries;
}

export async function createEngineServices(
  options: { scriptThreads?: number; jqThreads?: number; queryThreads?: number; queryLimits?: Partial<typeof DEFAULT_QUERY_LIMITS> } = {},
): Promise<EngineServices> {
  const [scripts, jq] = await Promise.all([
    createScriptEngine({ timeoutMs: 1000, memoryBytes: 32 * 1024 * 1024 }, options.scriptThreads ?? 2),
    createJq({}, options.jqThreads ?? 1),
  ]);
  const queries = createQueries(options.queryLimits ?? {}, options.queryThreads ?? 2);
  return { evaluator: evaluatorOf(scripts, jq, queries), queries, maxVariablesBytes: MAX_VARIABLES_BYTES };
}

function evaluatorOf(scripts: ScriptEngine, jq: Jq, queries: Queries): Evaluator {
  return {
    async evaluate(request) {
      try {
        switch (request.kind) {
          case "script": {
            // Inputs that read a filter come from the queries pool first, bound under the rest.
            const bindings = request.resolve
              ? {
                  ...((await queries.resolve(request.resolve.template, request.resolve.context, request.resolve.taskId)) as JsonObject),
                  ...(request.bindings as JsonObject),
                }
              : request.bindings;
            return { ok: true, value: await scripts.evaluate(request.source, bindings) };
          }
          case "resolve":
            return { ok: true, value: await queries.resolve(request.template, request.context, request.taskId) };
          case "jq":
            return { ok: true, value: (await jq.transform(request.filter, request.input)) as unknown as Json };
          case "continue":
            return { ok: true, value: true };
        }
      } catch (error) {
        return { ok: false, message: error instanceof Error ? error.message : String(error) };
      }
    },
    evaluateScript: (source, bindings) => scripts.evaluate(source, bindings),
    close: async () => {
      await Promise.all([scripts.close(), jq.close(), queries.close()]);
    },
  };
}
