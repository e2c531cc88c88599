// A reply going out as JSON (a Connect call asking for JSON) with long lists
// of messages, written in slices (slices.ts) rather than by Connect's one
// toJsonString and encode, which hold the event loop for all of it. The bytes
// are toJsonString's, byte for byte: fields in number order, each list item
// as toJson writes it.
//
// Connect serializes whatever message a handler returns, and gives the text
// to its JSON options' textEncoder. So the handler returns a stand-in message
// whose JSON text is unique to this reply (a random token in one of its
// string fields), and `slicedJsonEncoder`, set as the console's textEncoder,
// answers that text with the bytes made here.
import { randomUUID } from "node:crypto";
import { ScalarType, create, toJson, toJsonString, type DescMessage, type Message, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { SLICED_ITEMS, joinBytes, listedItems, nestable } from "./encode-in-slices.js";
import { Slices } from "./slices.js";

type Fields = Record<string, unknown> & Message;

const plain = new TextEncoder();
/** Bytes made for stand-in messages, by the stand-in's JSON text. */
const made = new Map<string, Uint8Array<ArrayBuffer>>();
/** A stand-in Connect did not serialize (it always does, at once) is forgotten after this. */
const FORGET_MS = 60_000;

/** The textEncoder for Connect's JSON options: a stand-in's text becomes its reply's bytes; any other text is encoded as usual. */
export const slicedJsonEncoder = {
  encode(json = ""): Uint8Array<ArrayBuffer> {
    const bytes = made.get(json);
    if (!bytes) return plain.encode(json);
    made.delete(json);
    return bytes;
  },
};

/** The text written so far, encoded to bytes one slice at a time. */
class Out {
  private text: string[] = [];
  readonly chunks: Uint8Array[] = [];
  constructor(readonly slices: Slices) {}

  write(text: string): void {
    this.text.push(text);
  }

  async turn(): Promise<void> {
    if (!this.slices.due()) return;
    this.flush();
    await this.slices.yield();
  }

  flush(): void {
    this.chunks.push(plain.encode(this.text.join("")));
    this.text = [];
  }
}

const wellKnown = (schema: DescMessage) => schema.typeName.startsWith("google.protobuf.");

/** Writes toJsonString(schema, message), its long lists item by item. */
async function write(schema: DescMessage, message: Fields, out: Out): Promise<void> {
  // Every field but the long ones, as toJson writes them: their keys and values are copied from this.
  const rest = create(schema) as Fields;
  const long = new Set<string>();
  for (const f of schema.fields) {
    const value = f.oneof ? undefined : message[f.localName];
    if (f.fieldKind === "list" && f.listKind === "message" && !f.delimitedEncoding && !wellKnown(f.message)) long.add(f.localName);
    else if (f.fieldKind === "message" && nestable(f) && value !== undefined && !wellKnown(f.message) && listedItems(f.message, value as Fields) > 0)
      long.add(f.localName);
    else if (f.oneof) rest[f.oneof.localName] = message[f.oneof.localName];
    else rest[f.localName] = value;
  }
  const written = toJson(schema, rest) as Record<string, unknown>;
  let first = true;
  const key = (name: string) => {
    out.write(`${first ? "" : ","}${JSON.stringify(name)}:`);
    first = false;
  };
  out.write("{");
  for (const f of [...schema.fields].sort((a, b) => a.number - b.number)) {
    if (!long.has(f.localName)) {
      if (f.jsonName in written) {
        key(f.jsonName);
        out.write(JSON.stringify(written[f.jsonName]));
      }
      continue;
    }
    const value = message[f.localName];
    if (f.fieldKind !== "list") {
      key(f.jsonName);
      await write(f.message!, value as Fields, out);
      continue;
    }
    const items = value as Fields[];
    if (items.length === 0) continue; // an empty list is left out, as toJson does
    key(f.jsonName);
    out.write("[");
    for (const [i, item] of items.entries()) {
      await out.turn();
      if (i > 0) out.write(",");
      // An item with long lists of its own (a run with its thousands of tasks) is written in slices too.
      if (listedItems(f.message!, item) >= SLICED_ITEMS) await write(f.message!, item, out);
      else out.write(JSON.stringify(toJson(f.message!, item)));
    }
    out.write("]");
  }
  out.write("}");
}

/** The path to a string field, at the top or in a message field, to hold the stand-in's token. */
function tokenField(schema: DescMessage, depth = 0): string[] | undefined {
  for (const f of schema.fields) {
    if (!f.oneof && f.fieldKind === "scalar" && f.scalar === ScalarType.STRING) return [f.localName];
  }
  if (depth >= 2) return undefined;
  for (const f of schema.fields) {
    if (f.oneof || f.fieldKind !== "message" || wellKnown(f.message)) continue;
    const inner = tokenField(f.message, depth + 1);
    if (inner) return [f.localName, ...inner];
  }
  return undefined;
}

/** A message of this type whose JSON text no other reply has: a random token in a string field. */
function standIn(schema: DescMessage, path: string[]): Fields {
  const shell = create(schema) as Fields;
  let at = shell;
  let type = schema;
  for (const name of path.slice(0, -1)) {
    const f = type.fields.find((field) => field.localName === name)!;
    type = f.message!;
    at[name] = create(type);
    at = at[name] as Fields;
  }
  at[path[path.length - 1]!] = `baton-sliced-json:${randomUUID()}`;
  return shell;
}

/**
 * `message` (a message or its init shape) ready to go out as JSON through
 * Connect with `slicedJsonEncoder`: itself when it has few list items, else
 * a stand-in whose text that encoder answers with the message's JSON bytes,
 * made in slices.
 */
export async function jsonEncodedInSlices<Desc extends DescMessage>(schema: Desc, message: MessageInitShape<Desc>): Promise<MessageShape<Desc>> {
  const fields = create(schema, message) as unknown as Fields;
  const path = tokenField(schema);
  if (!path || wellKnown(schema) || listedItems(schema, fields) < SLICED_ITEMS) return fields as unknown as MessageShape<Desc>;
  const out = new Out(new Slices());
  await write(schema, fields, out);
  out.flush();
  const bytes = joinBytes(out.chunks);
  const shell = standIn(schema, path);
  const text = toJsonString(schema, shell as unknown as MessageShape<Desc>);
  made.set(text, bytes);
  setTimeout(() => made.delete(text), FORGET_MS).unref();
  return shell as unknown as MessageShape<Desc>;
}
