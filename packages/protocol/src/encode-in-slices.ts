// A reply with long lists of messages (a run's tasks, a page of runs) encoded
// in slices (slices.ts) rather than by one toBinary call that holds the event
// loop for all of it. The bytes are toBinary's, byte for byte: fields in
// number order, each list item as toBinary writes it, unknown fields last.
// The result is handed on as a message of the same type whose only content
// is those bytes, as its unknown fields: toBinary writes them as they are,
// so the gRPC codec and Connect's binary codec send it unchanged.
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { create, toBinary, type DescField, type DescMessage, type Message, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Slices } from "./slices.js";

/** Lists of messages with at least this many items in all (to two levels deep) are encoded in slices. */
export const SLICED_ITEMS = 100;

type Fields = Record<string, unknown> & Message;

/** A message field toBinary writes length-prefixed (not a group). */
export const nestable = (f: DescField) => (f.fieldKind === "message" || (f.fieldKind === "list" && f.listKind === "message")) && !f.delimitedEncoding;

/**
 * How many items the message's lists of messages hold, in it, in its message
 * fields and in its list items (two levels deep: a page's runs and their
 * tasks), counted up to SLICED_ITEMS: past that it is long anyway, and a run's
 * thousands of tasks are not each looked at.
 */
export function listedItems(schema: DescMessage, message: Fields, depth = 0): number {
  let n = 0;
  for (const f of schema.fields) {
    if (!nestable(f) || f.oneof) continue;
    const value = message[f.localName];
    if (f.fieldKind === "list") {
      const items = value as Fields[];
      n += items.length;
      for (let i = 0; i < items.length && depth < 2 && n < SLICED_ITEMS; i++) n += listedItems(f.message!, items[i]!, depth + 1);
    } else if (f.fieldKind === "message" && value !== undefined && depth < 2) n += listedItems(f.message, value as Fields, depth + 1);
    if (n >= SLICED_ITEMS) return n;
  }
  return n;
}

const byteLength = (parts: Uint8Array[]) => parts.reduce((n, p) => n + p.length, 0);

/** The parts one after another, in one array. */
export function joinBytes(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(byteLength(parts));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return bytes;
}

const lengthPrefix = (no: number, length: number) => new BinaryWriter().tag(no, WireType.LengthDelimited).uint32(length).finish();

async function encode(schema: DescMessage, message: Fields, slices: Slices): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  // Fields written by toBinary together: every field between two long ones.
  let group: Fields = create(schema) as Fields;
  let grouped = false;
  const flush = () => {
    if (grouped) parts.push(toBinary(schema, group));
    group = create(schema) as Fields;
    grouped = false;
  };
  for (const f of [...schema.fields].sort((a, b) => a.number - b.number)) {
    const value = f.oneof ? undefined : message[f.localName];
    if (f.fieldKind === "list" && f.listKind === "message" && !f.delimitedEncoding) {
      flush();
      // One part per slice: few parts to join at the end.
      let writer = new BinaryWriter();
      for (const item of value as Message[]) {
        if (slices.due()) {
          parts.push(writer.finish());
          writer = new BinaryWriter();
          await slices.yield();
        }
        // An item with long lists of its own (a run with its thousands of tasks) is encoded in slices too.
        if (listedItems(f.message, item as Fields) < SLICED_ITEMS) writer.tag(f.number, WireType.LengthDelimited).bytes(toBinary(f.message, item));
        else {
          parts.push(writer.finish());
          writer = new BinaryWriter();
          const inner = await encode(f.message, item as Fields, slices);
          parts.push(lengthPrefix(f.number, byteLength(inner)), ...inner);
        }
      }
      parts.push(writer.finish());
    } else if (f.fieldKind === "message" && nestable(f) && value !== undefined && listedItems(f.message, value as Fields) > 0) {
      flush();
      const inner = await encode(f.message, value as Fields, slices);
      parts.push(lengthPrefix(f.number, byteLength(inner)), ...inner);
    } else if (f.oneof) {
      // A oneof is copied whole, with the field that is set, where toBinary writes it.
      const oneof = message[f.oneof.localName] as { case?: string };
      if (oneof.case === f.localName) group[f.oneof.localName] = oneof;
      grouped = true;
    } else {
      group[f.localName] = value;
      grouped = true;
    }
  }
  if (message.$unknown?.length) {
    group.$unknown = message.$unknown;
    grouped = true;
  }
  flush();
  return parts;
}

/**
 * `message` (a message or its init shape) as toBinary would encode it, ready
 * to send: itself when it has few list items, else a message whose unknown
 * fields are its encoding, made in slices. Such a message is only for a
 * binary codec (JSON leaves unknown fields out).
 */
export function encodedInSlices<Desc extends DescMessage>(schema: Desc, message: MessageInitShape<Desc>): Promise<MessageShape<Desc>> {
  if (!sharedReplies.has(message)) return encodeInSlices(schema, message);
  let encoding = sharedReplies.get(message) as Promise<MessageShape<Desc>> | undefined;
  if (!encoding) {
    encoding = encodeInSlices(schema, message);
    sharedReplies.set(message, encoding);
  }
  return encoding;
}

/**
 * Replies given as they are to several callers (a run read by many at once), and
 * their encoding once begun: made once for all of them, each sends its bytes.
 */
const sharedReplies = new WeakMap<object, Promise<unknown> | undefined>();

/** Marks `message` as a reply several calls may send: encodedInSlices encodes it once. It must not change once sent. */
export function sharedReply<T extends object>(message: T): T {
  if (!sharedReplies.has(message)) sharedReplies.set(message, undefined);
  return message;
}

async function encodeInSlices<Desc extends DescMessage>(schema: Desc, message: MessageInitShape<Desc>): Promise<MessageShape<Desc>> {
  const fields = create(schema, message) as unknown as Fields;
  if (listedItems(schema, fields) < SLICED_ITEMS) return fields as unknown as MessageShape<Desc>;
  const bytes = joinBytes(await encode(schema, fields, new Slices()));
  // Each top-level field of the encoding as an unknown field: toBinary writes its tag, then its bytes as they are.
  const unknown: { no: number; wireType: WireType; data: Uint8Array }[] = [];
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    unknown.push({ no, wireType, data: reader.skip(wireType, no) });
  }
  const shell = create(schema) as Fields;
  shell.$unknown = unknown;
  encodings.set(shell, bytes);
  return shell as unknown as MessageShape<Desc>;
}

/** The bytes of each message encodedInSlices made: sent as they are, not copied again by toBinary writing its unknown fields. */
const encodings = new WeakMap<object, Uint8Array<ArrayBuffer>>();

/** `message`'s encoding when encodedInSlices made it, else undefined. */
export const slicedEncoding = (message: object): Uint8Array<ArrayBuffer> | undefined => encodings.get(message);
