// Tasks the server computes itself: HTTP calls and scripts (INLINE, LAMBDA, JSON_JQ_TRANSFORM).
import { optionFields, type StepOptions } from "../options.js";
import { createStep, type Step } from "../step.js";
import type { Value } from "../value.js";

type Inputs = Record<string, Value<unknown>>;

export interface HttpSpec extends StepOptions {
  uri: Value<string>;
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS";
  headers?: Record<string, Value<string>>;
  body?: Value<unknown>;
  accept?: string;
  contentType?: string;
  connectionTimeOut?: number;
  readTimeOut?: number;
}

export interface HttpOutput<B> {
  response: { body: B; statusCode: number; headers: Record<string, string[]>; reasonPhrase: string };
}

export function http<B = unknown>(spec: HttpSpec): Step<HttpOutput<B>> {
  const request = {
    uri: spec.uri,
    method: spec.method ?? "GET",
    headers: spec.headers,
    body: spec.body,
    accept: spec.accept,
    contentType: spec.contentType,
    connectionTimeOut: spec.connectionTimeOut,
    readTimeOut: spec.readTimeOut,
  };
  return createStep({
    ref: spec.ref,
    base: "http",
    name: "http",
    type: "HTTP",
    fields: { inputParameters: { http_request: request }, ...optionFields(spec) },
  });
}

export interface ScriptSpec extends StepOptions {
  /** JavaScript; reads each input as `$.<name>`. */
  script: string;
  inputs?: Inputs;
}

export interface InlineSpec extends ScriptSpec {
  evaluator?: "javascript" | "graaljs";
}

/** Runs a script in the server's sandbox; its value is `output.result`. */
export function inline<R = unknown>(spec: InlineSpec): Step<{ result: R }> {
  return createStep({
    ref: spec.ref,
    base: "inline",
    name: "inline",
    type: "INLINE",
    fields: {
      inputParameters: { evaluatorType: spec.evaluator ?? "javascript", expression: spec.script, ...spec.inputs },
      ...optionFields(spec),
    },
  });
}

/** Conductor's older script task; prefer inline. */
export function lambda<R = unknown>(spec: ScriptSpec): Step<{ result: R }> {
  return createStep({
    ref: spec.ref,
    base: "lambda",
    name: "lambda",
    type: "LAMBDA",
    fields: { inputParameters: { scriptExpression: spec.script, ...spec.inputs }, ...optionFields(spec) },
  });
}

export interface JqSpec extends StepOptions {
  /** A jq program over the inputs, e.g. ".formats | map({format: .})". */
  query: string;
  inputs?: Inputs;
}

export function jq<R = unknown>(spec: JqSpec): Step<{ result: R; resultList: R[] }> {
  return createStep({
    ref: spec.ref,
    base: "jq",
    name: "json_jq_transform",
    type: "JSON_JQ_TRANSFORM",
    fields: { inputParameters: { queryExpression: spec.query, ...spec.inputs }, ...optionFields(spec) },
  });
}
