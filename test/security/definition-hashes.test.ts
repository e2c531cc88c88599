// A definition's identity (the hash of its key-sorted JSON) is computed off the
// thread that serves calls (issue 14): at 4 MiB the key-sorted copies and
// their text held it for hundreds of ms per publish, inline start and schedule
// update. The hashes stay what rows stored before already hold, so
// publishing a stored definition again makes no new version. What is still
// done on that thread for a large definition (its parse, the SDK's checks,
// listing its expressions) is done a step per turn of the event loop.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";
import { countTurns } from "../support/turns.js";

/** The identity as written by the server so far, spelled out here: sha256 of the JSON with every object's keys sorted. */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(",")}]`;
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const withoutVersion = ({ version: _v, ...rest }: Record<string, unknown>) => rest;

/** Object copies (Object.fromEntries, as a key-sorted copy makes) on this thread, the server's, while `fn` runs. */
async function copiesDuring<T>(fn: () => Promise<T>): Promise<{ result: T; copies: number }> {
  const { fromEntries } = Object;
  let copies = 0;
  Object.fromEntries = ((entries: Iterable<readonly [PropertyKey, unknown]>) => (copies++, fromEntries(entries))) as typeof Object.fromEntries;
  try {
    return { result: await fn(), copies };
  } finally {
    Object.fromEntries = fromEntries;
  }
}

/** A flow holding `items` small objects in one task's input (each a key-sorted copy when hashed on the serving thread). */
const wide = (name: string, items: number, extra: object = {}) => ({
  ...flowOf(name, [
    { name: "hold", taskReferenceName: "hold", type: "WAIT", inputParameters: { items: Array.from({ length: items }, (_, i) => ({ id: i, on: true })) } },
  ]),
  ...extra,
});
const ITEMS = 20_000;

/**
 * The turn of the event loop (a chain of setImmediate) in which the last JSON text of `min` or more characters was
 * parsed, and the turns in which its value was walked (Object.keys, entries or values of it), while `fn` runs.
 */
async function parseAndWalkTurns(min: number, fn: () => Promise<unknown>): Promise<{ parsed?: number; walked: number[] }> {
  const { parse } = JSON;
  const { keys, entries, values } = Object;
  const turns = countTurns();
  let root: unknown;
  const seen: { parsed?: number; walked: number[] } = { walked: [] };
  JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
    const value: unknown = parse(text, reviver);
    if (text.length >= min) [root, seen.parsed, seen.walked] = [value, turns.now, []];
    return value;
  }) as typeof JSON.parse;
  const walked = (value: unknown) => value === root && seen.walked.push(turns.now);
  Object.keys = ((value: object) => (walked(value), keys(value))) as typeof Object.keys;
  Object.entries = ((value: object) => (walked(value), entries(value))) as typeof Object.entries;
  Object.values = ((value: object) => (walked(value), values(value))) as typeof Object.values;
  try {
    await fn();
    return seen;
  } finally {
    [JSON.parse, Object.keys, Object.entries, Object.values] = [parse, keys, entries, values];
    turns.stop();
  }
}

describe("definition hashes", () => {
  let h: Harness;
  let db: pg.Pool;
  before(async () => {
    h = await startHarness({ manualClock: false });
    db = new pg.Pool({ connectionString: h.databaseUrl, max: 1 });
  });
  after(async () => {
    await db.end();
    await h.close();
  });
  const stored = async (name: string) =>
    (
      await db.query<{ version: number; hash: string; content_hash: string | null }>(
        "SELECT w.version, w.hash, d.content_hash FROM baton.workflow_defs w JOIN baton.defs d ON d.hash = w.hash WHERE w.name = $1 ORDER BY w.version",
        [name],
      )
    ).rows;

  it("publishes a large definition without key-sorted copies on the serving thread", async () => {
    // Before: 60,009 copies (the content hash twice, the stored hash once, each a copy of every object); inline start and schedule update 40,006 each.
    const { result, copies } = await copiesDuring(() => h.client.registerWorkflowDef(wide("wide_publish", ITEMS), { nextIfChanged: true }));
    assert.equal(result.version, 1);
    assert.ok(copies < 100, `objects copied while publishing ${ITEMS} objects: ${copies}`);
    const again = await copiesDuring(() => h.client.registerWorkflowDef(wide("wide_publish", ITEMS), { nextIfChanged: true }));
    assert.equal(again.result.changed, false);
    assert.ok(again.copies < 100, `objects copied while publishing it again: ${again.copies}`);
  });

  it("starts a run of a large inline definition without key-sorted copies on the serving thread", async () => {
    const def = wide("wide_inline", ITEMS);
    const start = () => h.client.workflows.startWorkflow({ name: "", inputJson: "{}", definitionJson: JSON.stringify(def) });
    const { result, copies } = await copiesDuring(start);
    const id = result.workflowId;
    assert.ok(copies < 100, `objects copied while starting it: ${copies}`);
    const { rows } = await db.query<{ def_hash: string }>("SELECT def_hash FROM baton.runs WHERE id = $1", [id]);
    assert.equal(rows[0]?.def_hash, sha256(sortedJson(def)));
  });

  it("updates a schedule of a large start input without key-sorted copies on the serving thread", async () => {
    await h.client.registerWorkflowDef(flowOf("scheduled_flow", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
    const input = { items: Array.from({ length: ITEMS }, (_, i) => ({ id: i, on: true })) };
    const schedule = { name: "wide_schedule", cronExpression: "0 0 * * * *", startWorkflowRequest: { name: "scheduled_flow", input } };
    await h.client.createSchedule(schedule);
    const { result, copies } = await copiesDuring(() => h.client.updateSchedule({ ...schedule, cronExpression: "0 0 * * * *" }));
    assert.equal(result.changed, false, "the same schedule, its keys in another order where stored, is unchanged");
    assert.ok(copies < 100, `objects copied while updating it: ${copies}`);
    assert.equal((await h.client.updateSchedule({ ...schedule, cronExpression: "0 30 * * * *" })).changed, true);
  });

  it("parses, checks and lists the expressions of a large definition each in a turn of its own", async () => {
    // Before: the parse, its check and the task names in one turn, the SDK's checks and the expressions in the next.
    const text = JSON.stringify(wide("wide_turns", ITEMS));
    const { parsed, walked } = await parseAndWalkTurns(text.length, () => h.client.metadata.registerWorkflowDef({ definitionJson: text }));
    assert.ok(parsed !== undefined, "the definition was parsed");
    assert.ok(!walked.includes(parsed), `walked in the turn it was parsed in (${parsed}): ${walked.join(", ")}`);
    assert.ok(new Set(walked).size >= 4, `walked in turns ${walked.join(", ")}`);
  });

  it("keeps the hashes rows stored before hold: the same definition, in any key order, is not a new version", async () => {
    const def = {
      ...flowOf("kept_identity", [{ name: "noop", taskReferenceName: "noop", type: "NOOP", inputParameters: { b: 2, a: [{ y: 1, x: 2 }] } }]),
      description: "d",
    };
    const first = await h.client.registerWorkflowDef(def, { nextIfChanged: true });
    const [row] = await stored("kept_identity");
    assert.equal(row!.hash, sha256(sortedJson(def)), "stored under the hash of its sorted JSON, version 1 included");
    assert.equal(first.contentHash, sha256(sortedJson(withoutVersion(def))));
    assert.equal(row!.content_hash, first.contentHash);

    // The same content, keys in reverse order: unchanged.
    const reversed = JSON.parse(
      JSON.stringify(def, (_k, v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v)),
    );
    assert.deepEqual(await h.client.registerWorkflowDef(reversed, { nextIfChanged: true }), { ...first, version: 1, changed: false });

    // A body stored before content hashes were kept beside it: compared by its own, unchanged too.
    await db.query("UPDATE baton.defs SET content_hash = NULL WHERE hash = $1", [row!.hash]);
    assert.equal((await h.client.registerWorkflowDef(def, { nextIfChanged: true })).changed, false);

    // A change: the next version, stored under the hash of its body with that version.
    const changed = { ...def, description: "changed" };
    assert.equal((await h.client.registerWorkflowDef(changed, { nextIfChanged: true })).version, 2);
    assert.equal((await stored("kept_identity"))[1]!.hash, sha256(sortedJson({ ...changed, version: 2 })));
  });

  it("gives concurrent publishes of one name each its own version, each stored under its own hash", async () => {
    const bodies = Array.from({ length: 5 }, (_, i) => ({
      ...flowOf("raced", [{ name: "noop", taskReferenceName: "noop", type: "NOOP" }]),
      description: `body ${i}`,
    }));
    const results = await Promise.all(bodies.map((b) => h.client.registerWorkflowDef(b, { nextIfChanged: true })));
    assert.deepEqual(results.map((r) => r.version).sort(), [1, 2, 3, 4, 5]);
    const rows = await stored("raced");
    for (const [i, r] of results.entries()) {
      assert.equal(rows.find((row) => row.version === r.version)!.hash, sha256(sortedJson({ ...bodies[i]!, version: r.version })));
    }
  });
});
