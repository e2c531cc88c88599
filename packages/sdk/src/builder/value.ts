// What a step input may hold: a literal of the declared type or a Ref to one, at
// any depth. toJson turns such a value into Conductor JSON with "${...}" strings.
import type { Json } from "../def.js";
import { expressionOf, type Ref, type RefOf } from "./ref.js";

type Primitive = string | number | boolean | null | undefined;

/** A literal T or a Ref<T>, nested: { src: Ref<string>, format: "mp4" } fits { src: string; format: string }. */
export type Value<T> = Ref<T> | Literal<T>;

type Literal<T> = T extends Primitive ? T : T extends readonly (infer E)[] ? readonly Value<E>[] : T extends object ? { [K in keyof T]: Value<T[K]> } : T;

/** A step's inputParameters: an object whose fields are Values of the declared input type. */
export type Inputs<I> = { [K in keyof I]: Value<I[K]> };

/** The type a Value resolves to at run time: Ref<T> becomes T, at any depth. */
export type Resolved<V> =
  V extends RefOf<infer T>
    ? T
    : V extends Primitive
      ? V
      : V extends readonly (infer E)[]
        ? Resolved<E>[]
        : V extends object
          ? { [K in keyof V]: Resolved<V[K]> }
          : V;

/** Converts a Value to JSON: Refs become "${...}", undefined fields are dropped. */
export function toJson(value: unknown): Json {
  const expression = expressionOf(value);
  if (expression !== undefined) return expression;
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : toJson(v)));
  if (typeof value === "object") {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJson(v);
    return out;
  }
  return null;
}
