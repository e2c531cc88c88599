// A definition's identity (the hash of its key-sorted JSON) is computed off the
// thread that serves calls (issue 14): at 4 MiB the key-sorted copies and
// their text held it for hundreds of ms per publish, inline start and schedule
// update. The hashes stay what rows stored before already hold, so
// publishing a stored definition again makes no new version. A definition
// published is read and checked from its text in the queries pool, never
// parsed or walked on that thread; one started inline is parsed there only
// because its run needs it.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";
import { VersionPolicy } from "@baton/protocol";

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
 * The serving thread's work on a definition while `fn` runs (this thread is the server's): the JSON texts of `min` or more
 * characters it parsed, and the objects it walked (Object.keys, entries or values of one: the SDK's checks, the listing
 * of expressions and the payload checks each walk every object).
 */
async function workDuring<T>(min: number, fn: () => Promise<T>): Promise<{ result: T; parses: number; walks: number }> {
  const { parse } = JSON;
  const { keys, entries, values } = Object;
  let [parses, walks] = [0, 0];
  JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
    if (text.length >= min) parses++;
    return parse(text, reviver);
  }) as typeof JSON.parse;
  Object.keys = ((value: object) => (walks++, keys(value))) as typeof Object.keys;
  Object.entries = ((value: object) => (walks++, entries(value))) as typeof Object.entries;
  Object.values = ((value: object) => (walks++, values(value))) as typeof Object.values;
  try {
    return { result: await fn(), parses, walks };
  } finally {
    [JSON.parse, Object.keys, Object.entries, Object.values] = [parse, keys, entries, values];
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

  it("publishes and validates a large definition without parsing or walking it on the serving thread", async () => {
    // Before: the text parsed once and 100,023 objects walked (its payload check, the SDK's checks, the listing of its expressions) for each call.
    const def = wide("wide_work", ITEMS);
    const text = JSON.stringify(def);
    const publish = (definitionJson: string) => h.client.metadata.registerWorkflowDef({ definitionJson, versionPolicy: VersionPolicy.NEXT_IF_CHANGED });
    const calls: [string, () => Promise<unknown>][] = [
      ["publishing it", () => publish(text)],
      ["publishing it again, unchanged", () => publish(text)],
      ["publishing it changed, as the next version", () => publish(JSON.stringify({ ...def, description: "changed" }))],
      ["validating it", () => h.client.metadata.validateWorkflowDef({ definitionJson: text })],
    ];
    for (const [what, call] of calls) {
      const { parses, walks } = await workDuring(text.length, call);
      assert.equal(parses, 0, `parsed while ${what}`);
      assert.ok(walks < 100, `objects walked while ${what}: ${walks}`);
    }
    assert.deepEqual(
      (await stored("wide_work")).map((row) => [row.version, row.hash]),
      [
        [1, sha256(sortedJson(def))],
        [2, sha256(sortedJson({ ...def, description: "changed", version: 2 }))],
      ],
    );
  });

  it("checks a large inline definition off the serving thread, which parses it only to run it", async () => {
    // Before: 100,026 objects walked; what is left is the run's: its payload check, and its first task's input resolved, each walking every object once.
    const text = JSON.stringify(wide("wide_inline_work", ITEMS));
    const { parses, walks } = await workDuring(text.length, () => h.client.workflows.startWorkflow({ name: "", inputJson: "{}", definitionJson: text }));
    assert.equal(parses, 1);
    assert.ok(walks < 2 * ITEMS + 100, `objects walked while starting it: ${walks}`);
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
