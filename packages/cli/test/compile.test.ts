// baton compile: flows found by type (aliases, re-exports, default exports),
// one JSON file per flow version with stable bytes, and diagnostics that
// point at the user's line.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { baton, ensureBuilt, json, removeDir, tempProject } from "./support.js";

const TASKS = `import { taskType } from "@baton/sdk";

export const charge = taskType<{ amount: number }, { receipt: string }>("cli_charge", { retryCount: 3, timeoutSeconds: 60, responseTimeoutSeconds: 30 });
export const email = taskType<{ to: string; receipt: string }, { sent: boolean }>("cli_email", { retryCount: 1, timeoutSeconds: 60, responseTimeoutSeconds: 30 });
`;

const CHECKOUT = `import { workflow, type Flow } from "@baton/sdk";
import { charge, email } from "./tasks.js";

type Checkout = Flow<{ amount: number; to: string }, { receipt: string }>;

const build = () =>
  workflow("cli_checkout", { description: "charge, then email the receipt" })
    .input<{ amount: number; to: string }>("amount", "to")
    .steps((wf) => {
      const paid = charge.step("charge", { amount: wf.input.amount });
      email.step("email", { to: wf.input.to, receipt: paid.output.receipt });
      return { receipt: paid.output.receipt };
    });

export const checkout: Checkout = build();

export default workflow("cli_checkout", { version: 2, description: "charge only" })
  .input<{ amount: number }>("amount")
  .steps((wf) => {
    const paid = charge.step("charge", { amount: wf.input.amount });
    return { receipt: paid.output.receipt };
  });

export const notAFlow = { name: "cli_checkout" };
`;

const INDEX = `export { checkout as renamed } from "./checkout.js";
export * from "./tasks.js";
`;

const TYPE_ERROR = `import { workflow } from "@baton/sdk";
import { charge } from "../flows/tasks.js";

export const broken = workflow("cli_broken")
  .input<{ amount: string }>("amount")
  .steps((wf) => {
    charge.step("charge", { amount: wf.input.amount });
  });
`;

const DUPLICATE_REF = `import { workflow } from "@baton/sdk";
import { charge } from "../flows/tasks.js";

export const twice = workflow("cli_twice")
  .input<{ amount: number }>("amount")
  .steps((wf) => {
    charge.step("charge", { amount: wf.input.amount });
    charge.step("charge", { amount: wf.input.amount });
  });
`;

describe("baton compile", () => {
  let dir: string;
  before(() => {
    ensureBuilt();
    dir = tempProject({
      "src/flows/tasks.ts": TASKS,
      "src/flows/checkout.ts": CHECKOUT,
      "src/flows/index.ts": INDEX,
      "src/bad/type-error.ts": TYPE_ERROR,
      "src/bad/duplicate-ref.ts": DUPLICATE_REF,
      "src/empty/nothing.ts": "export const answer = 42;\n",
    });
  });
  after(() => dir && removeDir(dir));

  test("writes one <name>.v<version>.json per flow version, found by type, with stable bytes", async () => {
    const r = await baton(["compile", "--out-dir", "out"], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(path.join(dir, "out")).sort(), ["cli_checkout.v1.json", "cli_checkout.v2.json", "taskdefs.json"]);
    const v1 = readFileSync(path.join(dir, "out/cli_checkout.v1.json"), "utf8");
    const def = json<{
      name: string;
      version: number;
      tasks: { taskReferenceName: string; inputParameters: Record<string, string> }[];
      outputParameters: Record<string, string>;
    }>(v1);
    assert.equal(def.name, "cli_checkout");
    assert.deepEqual(
      def.tasks.map((t) => t.taskReferenceName),
      ["charge", "email"],
    );
    assert.equal(def.tasks[1]?.inputParameters["receipt"], "${charge.output.receipt}");
    assert.deepEqual(Object.keys(def).slice(0, 3), ["name", "description", "version"]);
    const taskDefs = json<{ taskDefs: { name: string }[] }>(readFileSync(path.join(dir, "out/taskdefs.json"), "utf8"));
    assert.deepEqual(
      taskDefs.taskDefs.map((t) => t.name),
      ["cli_charge", "cli_email"],
    );

    const again = await baton(["compile", "src/flows", "--out-dir", "out"], { cwd: dir });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(path.join(dir, "out/cli_checkout.v1.json"), "utf8"), v1);
  });

  test("--json lists flows with their source export", async () => {
    const r = await baton(["compile", "src/flows", "--json", "--no-write"], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const out = json<{ ok: boolean; flows: { name: string; version: number; source: { file: string; export: string } }[]; taskDefs: string[] }>(r.stdout);
    assert.equal(out.ok, true);
    assert.deepEqual(
      out.flows.map((f) => [f.name, f.version, f.source.file, f.source.export]),
      [
        ["cli_checkout", 1, "src/flows/checkout.ts", "checkout"],
        ["cli_checkout", 2, "src/flows/checkout.ts", "default"],
      ],
    );
    assert.deepEqual(out.taskDefs, ["cli_charge", "cli_email"]);
  });

  test("a type error: exit 4, file:line:col - error TSxxxx", async () => {
    const r = await baton(["compile", "src/bad/type-error.ts"], { cwd: dir });
    assert.equal(r.code, 4);
    // At the field that is wrong, in one message: not at `.step(` with a list of overloads.
    assert.match(r.stderr, /^src\/bad\/type-error\.ts:7:29 - error TS2322: Type 'RefOf<string>' is not assignable to type 'Value<number>'/m);
    assert.doesNotMatch(r.stderr, /overload/i);
    assert.match(r.stderr, /nothing written/);
  });

  test("a builder diagnostic points at the user's line: file:line:col - error BATON101", async () => {
    const r = await baton(["compile", "src/bad/duplicate-ref.ts"], { cwd: dir });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /^src\/bad\/duplicate-ref\.ts:8:12 - error BATON101: /m);

    const asJson = await baton(["compile", "src/bad/duplicate-ref.ts", "--json"], { cwd: dir });
    assert.equal(asJson.code, 4);
    const d = json<{ ok: boolean; diagnostics: { code: string; file: string; line: number; column: number; path: string }[] }>(asJson.stdout);
    assert.equal(d.ok, false);
    assert.deepEqual(
      d.diagnostics.map((x) => [x.code, x.file, x.line, x.column, x.path]),
      [["BATON101", "src/bad/duplicate-ref.ts", 8, 12, "/tasks/1/taskReferenceName"]],
    );
  });

  test("no flows: a warning, exit 0; a missing path: exit 2", async () => {
    const none = await baton(["compile", "src/empty", "--no-write"], { cwd: dir });
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stderr, /warning: no exported flows found/);
    const missing = await baton(["compile", "src/nope"], { cwd: dir });
    assert.equal(missing.code, 2);
  });
});
