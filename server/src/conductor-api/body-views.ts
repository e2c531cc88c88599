// A REST body read into what its handler uses (issue 14): measured from its
// text, parsed, validated against its route's schema, and reduced to the few
// fields the handler reads, with the payloads it passes on written back as
// JSON text. Plain functions, so that a large body is read in the queries
// pool (queries-worker.ts) exactly as a small one is on the serving thread:
// at 4 MiB a publish's body held that thread 100-500 ms in its scans, its
// parse and its writing out again, and only its name and version are read.
import { nestsDeeperThan, NOTE_CHARS, parseJson, shortened, stringifyJson, usesMoreKeyNamesThan } from "@baton/json";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { BODY_TOO_DEEP, BODY_TOO_MANY_NAMES, MAX_BODY_DEPTH, MAX_JSON_KEY_NAMES } from "../service/json-checks.js";
import type { ValidationError } from "./errors.js";
import { EVENT_HANDLER, INPUT, START_WORKFLOW_REQUEST, TASK_DEF, TASK_DEFS, TASK_RESULT, WORKFLOW_DEF, WORKFLOW_DEFS } from "./schemas.js";
import { eventHandlerRights } from "../auth/policy.js";

/** Why a body was refused (a 400 naming each field that is wrong). */
export interface BodyRefusal {
  message: string;
  validationErrors: ValidationError[];
}

export type BodyRead = { ok: true; body: unknown } | { ok: false; refusal: BodyRefusal };

const ajv = new Ajv({ allErrors: true, strict: false });

/** A route's body schema, compiled. */
export function compileBodySchema(schema: object): ValidateFunction {
  return ajv.compile(schema);
}

/** The body `text` holds, checked from its text, parsed and, when `validate` is given, validated; "" or white space is no body. */
export function parsedBody(text: string, validate?: ValidateFunction): BodyRead {
  let body: unknown;
  if (text.trim() !== "") {
    // Read from the text, before the parse: megabytes of nested lists cost the parser seconds
    // (and, parsed, a body of 5,000 nested lists overflowed the stack writing it out again, a 500).
    if (nestsDeeperThan(text, MAX_BODY_DEPTH)) return refused(BODY_TOO_DEEP);
    if (usesMoreKeyNamesThan(text, MAX_JSON_KEY_NAMES)) return refused(BODY_TOO_MANY_NAMES);
    try {
      body = parseJson(text);
    } catch (error) {
      return refused(`the request body is not valid JSON: ${shortened((error as Error).message, NOTE_CHARS)}`);
    }
  }
  if (validate && !validate(body ?? null)) return { ok: false, refusal: invalidBody(validate.errors ?? [], body) };
  return { ok: true, body };
}

/** A definition as a publish passes it on: what the handler reads of it, and its JSON text. */
export interface DefinitionView {
  name: string;
  version?: number;
  /** Its JSON text; none when it is the body's text itself (the body as sent, written compactly). */
  text?: string;
}

/** A start as its handler passes it on (Conductor's StartWorkflowRequest), its input and definition as JSON text. */
export interface StartView {
  name: string;
  version?: number;
  correlationId: string;
  priority: number;
  idempotencyKey: string;
  inputJson: string;
  definitionJson: string;
}

/** A worker's result (Conductor's TaskResult) as its handler passes it on, its output as JSON text. */
export interface TaskResultView {
  taskId: string;
  status: "IN_PROGRESS" | "FAILED" | "FAILED_WITH_TERMINAL_ERROR" | "COMPLETED";
  workerId: string;
  reasonForIncompletion: string;
  callbackAfterSeconds: number;
  /** The lines of its logs that say something. */
  logs: string[];
  extendLease: boolean;
  /** Its outputData as JSON text; "" when it has none. */
  outputJson: string;
}

/** An event handler as its handler passes it on. */
export interface EventHandlerView {
  name: string;
  /** What its actions need beside registering it (auth/policy.ts). */
  rights: string[];
  text: string;
}

type Def = { name: string; version?: number | null };
type TaskResultBody = {
  taskId: string;
  status: TaskResultView["status"];
  workerId?: string | null;
  reasonForIncompletion?: string | null;
  callbackAfterSeconds?: number | null;
  outputData?: Record<string, unknown> | null;
  logs?: { log?: string | null }[] | null;
  extendLease?: boolean | null;
};
type StartBody = {
  name?: string;
  version?: number | null;
  correlationId?: string | null;
  input?: Record<string, unknown> | null;
  workflowDef?: Record<string, unknown> | null;
  priority?: number | null;
  idempotencyKey?: string | null;
};

const definitionOf = (def: Def, text?: string): DefinitionView => ({
  name: def.name,
  ...(typeof def.version === "number" ? { version: def.version } : {}),
  ...(text === undefined ? {} : { text }),
});

/** A start request's view; a definition sent with it is named `params.name`, else the request's name, unless it names itself. */
function startView(body: unknown, _text: string, params: Record<string, string>): StartView {
  const b = (body ?? {}) as StartBody;
  const name = params["name"] ?? b.name ?? "";
  return {
    name,
    ...(b.version ? { version: b.version } : {}),
    correlationId: b.correlationId ?? "",
    priority: b.priority ?? 0,
    idempotencyKey: b.idempotencyKey ?? "",
    inputJson: b.input ? stringifyJson(b.input) : "",
    definitionJson: b.workflowDef ? stringifyJson({ ...b.workflowDef, name: b.workflowDef["name"] ?? name }) : "",
  };
}

function taskResultView(body: unknown): TaskResultView {
  const b = body as TaskResultBody;
  return {
    taskId: b.taskId,
    status: b.status,
    workerId: b.workerId ?? "",
    reasonForIncompletion: b.reasonForIncompletion ?? "",
    callbackAfterSeconds: b.callbackAfterSeconds ?? 0,
    logs: (b.logs ?? []).map((l) => l.log ?? "").filter((l) => l !== ""),
    extendLease: b.extendLease ?? false,
    outputJson: b.outputData ? stringifyJson(b.outputData) : "",
  };
}

/**
 * Each view: the schema its body is validated against, and what its handler
 * gets of the body (`text`: the body as sent; `params`: the route's).
 */
const VIEWS = {
  /** One workflow definition (POST /api/metadata/workflow). */
  definition: {
    schema: WORKFLOW_DEF,
    view: (body: unknown, text: string): DefinitionView => {
      const compact = stringifyJson(body);
      return definitionOf(body as Def, compact === text ? undefined : compact);
    },
  },
  /** A list of them (PUT /api/metadata/workflow). */
  definitions: {
    schema: WORKFLOW_DEFS,
    view: (body: unknown): DefinitionView[] => (body as Def[]).map((def) => definitionOf(def, stringifyJson(def))),
  },
  /** Task definitions (POST /api/metadata/taskdefs): each one's JSON text. */
  taskDefs: {
    schema: TASK_DEFS,
    view: (body: unknown): { texts: string[] } => ({ texts: (body as unknown[]).map((def) => stringifyJson(def)) }),
  },
  /** One task definition (PUT /api/metadata/taskdefs), as a list of one. */
  taskDef: {
    schema: TASK_DEF,
    view: (body: unknown): { texts: string[] } => ({ texts: [stringifyJson(body)] }),
  },
  /** An event handler (POST and PUT /api/event): its name, the rights its actions need, its JSON text. */
  eventHandler: {
    schema: EVENT_HANDLER,
    view: (body: unknown): EventHandlerView => ({ name: (body as { name: string }).name, rights: eventHandlerRights(body), text: stringifyJson(body) }),
  },
  /** A start request (POST /api/workflow). */
  start: { schema: START_WORKFLOW_REQUEST, view: startView },
  /** A start request naming nothing (POST /api/workflow/execute/{name}/{version}: `params.name`). */
  execution: {
    schema: { ...START_WORKFLOW_REQUEST, required: [] },
    view: startView,
  },
  /** A run's input, the whole body (POST /api/workflow/{name}). */
  input: {
    schema: INPUT,
    view: (body: unknown): { inputJson: string } => ({ inputJson: stringifyJson(body ?? {}) }),
  },
  /** A worker's result (POST /api/tasks, /api/tasks/update-v2). */
  taskResult: { schema: TASK_RESULT, view: taskResultView },
  /** A task's output, the whole body (POST /api/tasks/{workflowId}/{taskRefName}/{status}): the service says what it must be. */
  output: {
    schema: {},
    view: (body: unknown): { outputJson: string } => ({ outputJson: body ? stringifyJson(body) : "" }),
  },
};

export type BodyViewName = keyof typeof VIEWS;

const validators = new Map<BodyViewName, ValidateFunction>();

/** The body `text` holds, read (parsedBody) against the view's schema and reduced to the view. */
export function readBodyView(name: BodyViewName, text: string, params: Record<string, string>): BodyRead {
  const { schema, view } = VIEWS[name];
  let validate = validators.get(name);
  if (!validate) validators.set(name, (validate = compileBodySchema(schema)));
  const read = parsedBody(text, validate);
  return read.ok ? { ok: true, body: view(read.body, text, params) } : read;
}

function refused(message: string): BodyRead {
  return { ok: false, refusal: { message, validationErrors: [] } };
}

/** A refusal naming each field that is wrong, with Conductor's validationErrors. */
function invalidBody(errors: ErrorObject[], body: unknown): BodyRefusal {
  const list: ValidationError[] = errors.map((e) => {
    const missing = e.keyword === "required" ? `/${(e.params as { missingProperty: string }).missingProperty}` : "";
    const path = `${e.instancePath}${missing}`.replace(/^\//, "").replace(/\//g, ".") || "body";
    return { path, message: missing ? "is required" : (e.message ?? "is invalid"), ...(missing ? {} : { invalidValue: valueAt(body, e.instancePath) }) };
  });
  return { message: `invalid request body: ${list.map((v) => `${v.path} ${v.message}`).join("; ")}`, validationErrors: list };
}

function valueAt(body: unknown, pointer: string): unknown {
  let value = body;
  for (const part of pointer.split("/").slice(1)) value = (value as Record<string, unknown> | undefined)?.[part];
  return value;
}
