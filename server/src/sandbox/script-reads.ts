// Which fields of one of `$`'s entries a script can read, found from its
// source without running it: a DO_WHILE's loopCondition gets the loop's own
// output as `$.<loopRef>`, which holds an entry per iteration so far
// (Conductor's shape), and binding it whole makes each iteration's condition
// cost as much as every iteration before it. A condition that reads only
// fixed fields of it (`$.loop['iteration']`, `$.loop['3']`) is given only
// those; any other use (the entry passed on, enumerated, read by a computed
// key, or `$` reached another way) gets it whole, as before.
//
// The rule holds only if the script cannot reach `$` or the entry except by
// the `$` name with fixed keys. So it gives up on `this` (global code's is
// the global object), `with`, `super`, `import`, names that reach the global
// object or Function (`globalThis`, `eval`, `Function`, `Object`, `Reflect`,
// `constructor`, ...), and computed keys it cannot tell are not one of those
// (any but a literal or an arithmetic result).
import { parse, type Node } from "acorn";
import { compiledCache } from "../expressions/memo.js";

/** Scripts longer than this are not read: they get the entry whole (the reading runs on the deciding thread). */
const MAX_SOURCE = 64 * 1024;

/** Names whose use may reach `$` without naming it (the global object, Function, prototypes). */
const REACHING = new Set([
  "globalThis",
  "eval",
  "Function",
  "Object",
  "Reflect",
  "Proxy",
  "arguments",
  "caller",
  "callee",
  "constructor",
  "prototype",
  "__proto__",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
  "getPrototypeOf",
  "getOwnPropertyDescriptor",
  "getOwnPropertyDescriptors",
]);

/** Syntax that reaches the global object or a prototype on its own. */
const REACHING_SYNTAX = new Set(["ThisExpression", "WithStatement", "Super", "MetaProperty", "ImportExpression"]);

/** Operators whose result is a number (or BigInt) whatever their operands: as a computed key, never a name. */
const NUMERIC_BINARY = new Set(["-", "*", "/", "%", "**", "|", "&", "^", "<<", ">>", ">>>"]);
const NUMERIC_UNARY = new Set(["-", "+", "~"]);

type AnyNode = Node & Record<string, unknown>;

const cache = compiledCache<{ fields: string[] | undefined }>("script reads");

/**
 * The fixed fields of `$[name]` that `source` reads; undefined when it may
 * read others (or the entry as a whole), or cannot be read here.
 */
export function fieldsRead(source: string, name: string): string[] | undefined {
  if (source.length > MAX_SOURCE) return undefined;
  const key = `${name}\u0000${source}`;
  let found = cache.get(key);
  if (found === undefined) {
    found = { fields: findFieldsRead(source, name) };
    cache.set(key, found);
  }
  return found.fields;
}

function findFieldsRead(source: string, name: string): string[] | undefined {
  let program: Node;
  try {
    program = parse(source, { ecmaVersion: "latest", sourceType: "script" });
  } catch {
    return undefined; // QuickJS reports the syntax error; nothing is saved on a script that does not run
  }
  const fields = new Set<string>();
  // Each node's parent: the `$` check looks two levels up.
  const parents = new Map<AnyNode, { parent: AnyNode | undefined; key: string }>();
  const ok = safely(() =>
    visit(program as AnyNode, undefined, "", parents, (node, parent, key) => {
      if (REACHING_SYNTAX.has(node.type)) return false;
      if (node.type === "Identifier" && REACHING.has(node["name"] as string)) return false;
      if (node.type === "Literal" && typeof node["value"] === "string" && REACHING.has(node["value"])) return false;
      if (
        (node.type === "MemberExpression" || node.type === "Property" || node.type === "MethodDefinition" || node.type === "PropertyDefinition") &&
        node["computed"]
      ) {
        const computedKey = (node.type === "MemberExpression" ? node["property"] : node["key"]) as AnyNode;
        if (staticKey(computedKey, true) === undefined && !isNumeric(computedKey)) return false;
      }
      if (node.type !== "Identifier" || node["name"] !== "$") return true;
      // `$` itself: only ever `$.<field>`, and `$.<name>` only ever `$.<name>.<field>`.
      const top = memberKey(node, parent, key);
      if (top === undefined) return false;
      if (top.field !== name) return true;
      const grand = parents.get(top.member);
      const entryField = grand ? memberKey(top.member, grand.parent, grand.key) : undefined;
      // A field every object has (`hasOwnProperty`, `toString`) may read the others through `this`.
      if (entryField === undefined || entryField.field in Object.prototype) return false;
      fields.add(entryField.field);
      return true;
    }),
  );
  return ok ? [...fields] : undefined;
}

/** False when the walk runs out of stack (a script nested deeper than acorn minds). */
function safely(walk: () => boolean): boolean {
  try {
    return walk();
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
}

type Check = (node: AnyNode, parent: AnyNode | undefined, key: string) => boolean;

/** Visits every node, parents first, noting each one's parent; false as soon as `check` says so. */
function visit(
  node: AnyNode,
  parent: AnyNode | undefined,
  key: string,
  parents: Map<AnyNode, { parent: AnyNode | undefined; key: string }>,
  check: Check,
): boolean {
  parents.set(node, { parent, key });
  if (!check(node, parent, key)) return false;
  for (const [childKey, value] of Object.entries(node)) {
    if (Array.isArray(value)) {
      for (const child of value) if (isNode(child) && !visit(child, node, childKey, parents, check)) return false;
    } else if (isNode(value) && !visit(value, node, childKey, parents, check)) return false;
  }
  return true;
}

function isNode(value: unknown): value is AnyNode {
  return typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string";
}

/** When `node` is the object of a member read with a fixed key: that member and the key. */
function memberKey(node: AnyNode, parent: AnyNode | undefined, key: string): { member: AnyNode; field: string } | undefined {
  if (parent?.type !== "MemberExpression" || key !== "object") return undefined;
  const field = staticKey(parent["property"] as AnyNode, parent["computed"] as boolean);
  return field === undefined ? undefined : { member: parent, field };
}

/** The key a member's property names: `a.b`'s `b`, `a['b']`'s and `a[1]`'s; undefined when it is computed otherwise. */
function staticKey(property: AnyNode, computed: boolean): string | undefined {
  if (!computed) return property.type === "Identifier" ? (property["name"] as string) : undefined;
  if (property.type !== "Literal") return undefined;
  const value = property["value"];
  return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
}

/** An expression whose value is a number whatever its operands: a key it computes names no property such as `constructor`. */
function isNumeric(node: AnyNode): boolean {
  if (node.type === "Literal") return typeof node["value"] === "number";
  if (node.type === "BinaryExpression") return NUMERIC_BINARY.has(node["operator"] as string);
  if (node.type === "UnaryExpression") return NUMERIC_UNARY.has(node["operator"] as string);
  return node.type === "UpdateExpression";
}
