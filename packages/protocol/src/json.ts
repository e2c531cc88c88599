// JSON payload helpers shared by server and clients. Payload fields are JSON
// text on the wire; an empty string means "nothing" (null / {}).

/** Parses a JSON payload field; "" gives `fallback`. Throws SyntaxError on bad JSON. */
export function parseJsonField<T>(text: string, fallback: T): unknown {
  return text === "" ? fallback : (JSON.parse(text) as unknown);
}

/** Serialises a value for a JSON payload field; undefined gives "". */
export function jsonField(value: unknown): string {
  return value === undefined ? "" : JSON.stringify(value);
}
