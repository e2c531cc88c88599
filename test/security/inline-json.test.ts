// expandInlineJSON on an event's payload (issue 14): JSON held in the
// payload's strings is parsed once per event, not once per action that asks,
// and a string nested deeper or with more key names than a payload may have
// stays text. Before, each action parsed it again on the serving thread: a
// 400 KB string of nested lists cost about 0.4 s a parse, and a handler may
// have 20 actions, an event 100 handlers.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

let h: Harness;
before(async () => {
  h = await startHarness();
  await h.client.registerWorkflowDef(flowOf("inline_target", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
});
after(() => h.close());

/** The texts JSON.parse read while `fn` ran, by length, of at least `min` characters. */
async function parsesOf(min: number, fn: () => Promise<void>): Promise<number[]> {
  const { parse } = JSON;
  const seen: number[] = [];
  JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
    if (text.length >= min) seen.push(text.length);
    return parse(text, reviver);
  }) as typeof JSON.parse;
  try {
    await fn();
    return seen;
  } finally {
    JSON.parse = parse;
  }
}

async function handlerOfThree(name: string, field: string): Promise<string[]> {
  await h.client.registerEventHandler({
    name,
    event: `inline:${name}`,
    active: true,
    actions: ["a", "b", "c"].map((run) => ({
      action: "complete_task",
      complete_task: { workflowId: `\${runs.${run}}`, taskRefName: "hold", output: { held: `\${${field}}` } },
      expandInlineJSON: true,
    })),
  });
  return Promise.all(["a", "b", "c"].map(() => h.client.startWorkflow("inline_target", {})));
}

describe("expandInlineJSON", () => {
  it("parses the JSON held in a payload's strings once per event, for all its actions", async () => {
    const ids = await handlerOfThree("inline_once", "body.items");
    const body = JSON.stringify({ items: Array.from({ length: 2_000 }, (_, i) => ({ i })) });
    const parses = await parsesOf(body.length, async () => {
      await h.client.publishEvent("inline:inline_once", { runs: { a: ids[0], b: ids[1], c: ids[2] }, body });
      await h.settle();
    });
    for (const id of ids) {
      const run = await h.client.getWorkflow(id);
      assert.equal(run.status, "COMPLETED");
      assert.equal(((run.tasks[0]!.outputData as { held: unknown[] }).held ?? []).length, 2_000, "the string was read as JSON");
    }
    assert.equal(parses.filter((n) => n === body.length).length, 1, `the held JSON was parsed ${parses.length} times`);
  });

  it("leaves as text a string nested deeper, or with more key names, than a payload may be", async () => {
    const deep = "[".repeat(200_000) + "]".repeat(200_000);
    const wide = JSON.stringify(Object.fromEntries(Array.from({ length: 12_000 }, (_, i) => [`k${i}`, i])));
    for (const [name, text] of [
      ["inline_deep", deep],
      ["inline_wide", wide],
    ] as const) {
      const ids = await handlerOfThree(name, "text");
      const parses = await parsesOf(text.length, async () => {
        await h.client.publishEvent(`inline:${name}`, { runs: { a: ids[0], b: ids[1], c: ids[2] }, text });
        await h.settle();
      });
      assert.deepEqual(
        parses.filter((n) => n === text.length),
        [],
        `${name}: parsed ${parses.length} times`,
      );
      for (const id of ids) {
        const run = await h.client.getWorkflow(id);
        assert.equal(run.status, "COMPLETED");
        assert.equal((run.tasks[0]!.outputData as { held: unknown }).held, text, `${name}: the string stays text`);
      }
    }
  });
});
