// The JavaScript sandbox: Conductor's script styles, the limits, no way out
// to the host, and no harm carried from one script to the next.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Json } from "../../src/expressions/index.js";
import {
  createScriptEngine,
  lambdaSource,
  ScriptError,
  scriptTruth,
  type ScriptEngine,
  type ScriptErrorKind,
  type ScriptLimits,
} from "../../src/sandbox/index.js";

let engine: ScriptEngine;

before(async () => {
  engine = await createScriptEngine({ timeoutMs: 500, memoryBytes: 8 * 1024 * 1024 });
});

after(async () => {
  await engine.close();
});

async function fails(source: string, kind: ScriptErrorKind, message?: RegExp, limits: Partial<ScriptLimits> = {}): Promise<void> {
  await assert.rejects(engine.evaluate(source, {}, limits), (error: unknown) => {
    assert.ok(error instanceof ScriptError, `not a ScriptError: ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

/** A plain script right after a bad one still works. */
async function stillWorks(): Promise<void> {
  assert.equal(await engine.evaluate("$.n + 1", { n: 41 }), 42);
}

describe("Conductor's script styles", () => {
  const cases: [string, Json, Json][] = [
    ["$.value * 2", { value: 21 }, 42],
    ["(function(){ return $.a + 1; })()", { a: 1 }, 2],
    ["if ($.loopTask['iteration'] < $.value) { true; } else { false; }", { loopTask: { iteration: 1 }, value: 3 }, true],
    ["function compute() { return $.number+10; } compute();", { number: 5 }, 15],
    ["({processed: true, id: 1})", {}, { processed: true, id: 1 }],
    ["$.LoopTask['iteration'] < $.list.length", { LoopTask: { iteration: 2 }, list: [1, 2, 3] }, true],
    ["function getElement() { return $.list.get($.iterator - 1); } getElement();", { list: ["a", "b"], iterator: 2 }, "b"],
    ["$.list.size()", { list: [1, 2, 3] }, 3],
    ["$.availableActions.indexOf($.requestedAction) >= 0 ? 'true' : 'false'", { availableActions: ["a"], requestedAction: "a" }, "true"],
    ["[$.s, $.n, $.b, $.z, $.o.k]", { s: "x", n: 1.5, b: false, z: null, o: { k: [1] } }, ["x", 1.5, false, null, [1]]],
    ["$", null, null],
    ["undefined", {}, null],
    ["(function () {})", {}, null],
    ["({ a: undefined, f: function () {}, b: 1 })", {}, { b: 1 }],
    ["typeof Date.now() + ':' + typeof Math.random()", {}, "number:number"],
    ["console.log('ignored'); 'done'", {}, "done"],
    ["Promise.resolve(5)", {}, 5],
    ["(async () => { await null; return { late: true }; })()", {}, { late: true }],
    ["'\\u00e9\\u4e2d\\ud83d\\ude00'", {}, "é中😀"],
  ];
  for (const [source, bindings, expected] of cases) {
    it(source, async () => assert.deepEqual(await engine.evaluate(source, bindings), expected));
  }

  it("LAMBDA bodies may `return` (Conductor wraps them in a function)", async () => {
    const body = "if ($.input.a==1){return {testvalue: true}} else{return {testvalue: false}}";
    assert.deepEqual(await engine.evaluate(lambdaSource(body), { input: { a: 1 } }), { testvalue: true });
    assert.deepEqual(await engine.evaluate(lambdaSource("return {};"), {}), {});
    assert.equal(await engine.evaluate(lambdaSource("var i = 1; // a comment at the end"), {}), null);
  });

  it("Conductor's truth for loop conditions", async () => {
    assert.equal(scriptTruth(true), true);
    assert.equal(scriptTruth(false), false);
    assert.equal(scriptTruth(2), true);
    assert.equal(scriptTruth(0), false);
    assert.equal(scriptTruth(-1), false);
    assert.equal(scriptTruth("false"), false);
    assert.equal(scriptTruth("true"), false);
    assert.equal(scriptTruth(null), false);
  });

  it("the script gets a copy: changing `$` changes nothing outside", async () => {
    const bindings = { list: [1, 2] };
    assert.deepEqual(await engine.evaluate("$.list.push(3); $.list", bindings), [1, 2, 3]);
    assert.deepEqual(bindings, { list: [1, 2] });
  });
});

describe("errors say what went wrong", () => {
  it("a syntax error", async () => await fails("syntax error here", "syntax", /SyntaxError: expecting ';' \(line 1, column 8\)/));
  it("a thrown Error", async () => await fails("throw new Error('boom')", "runtime", /^Error: boom/));
  it("a thrown value", async () => await fails("throw 'str'", "runtime", /the script threw "str"/));
  it("a SyntaxError thrown at run time is a runtime error", async () => await fails("JSON.parse('{')", "runtime", /SyntaxError/));
  it("a rejected promise", async () => await fails("Promise.reject(new Error('no'))", "runtime", /Error: no/));
  it("a promise that never settles", async () => await fails("new Promise(() => {})", "result", /never settled/));
  it("a BigInt result", async () => await fails("10n", "result", /not JSON.*BigInt/));
  it("a cyclic result", async () => await fails("var o = {}; o.o = o; o", "result", /not JSON.*circular/));
  it("the caller's limits are checked", async () => {
    await assert.rejects(engine.evaluate("1", {}, { timeoutMs: 0 }), RangeError);
    await assert.rejects(engine.evaluate("1", {}, { memoryBytes: Number.NaN }), RangeError);
  });
});

describe("limits", () => {
  it("an infinite loop is interrupted at its CPU-time limit, before the thread would be terminated", async () => {
    const restarts = engine.stats().workerRestarts;
    // At its CPU time; on a machine too busy to give it a tenth of a core, at the wall-clock backstop (cpu-time.ts).
    await fails(
      "while (true) {}",
      "timeout",
      /^the script (used more than|was still running after 1000 ms by the wall clock, short of) its 100 ms of CPU time/,
      {
        timeoutMs: 100,
      },
    );
    // QuickJS stopped it at its deadline; the thread's backstop (at twice the limit and more) would have said "and was stopped".
    assert.equal(engine.stats().workerRestarts, restarts, "the same thread goes on");
    await stillWorks();
  });

  it("a script cannot catch its own timeout", async () => {
    await assert.rejects(
      engine.evaluate("for (;;) { try { while (true) {} } catch (e) {} }", {}, { timeoutMs: 100 }),
      (e: unknown) => e instanceof ScriptError && e.kind === "timeout",
    );
    await stillWorks();
  });

  it("a growing array runs out of memory", async () => {
    // A long deadline, so that the memory limit is what stops it even on a busy machine.
    await fails("var a = []; while (true) a.push({ n: a.length, s: 'x' + a.length });", "memory", /memory limit/, {
      timeoutMs: 10_000,
      memoryBytes: 4 * 1024 * 1024,
    });
    await stillWorks();
  });

  it("a growing string runs out of memory", async () => {
    await fails("var s = 'x'; while (true) s += s;", "memory", undefined, { timeoutMs: 10_000 });
    await fails("'x'.repeat(1e9)", "memory", undefined, { timeoutMs: 10_000 });
    await stillWorks();
  });

  it("unbounded recursion hits the stack limit", async () => {
    await fails("function f() { return f() + 1; } f()", "memory", /stack limit/, { timeoutMs: 10_000 });
    await fails("JSON.stringify(JSON.parse('['.repeat(200000) + ']'.repeat(200000)))", "memory", /stack limit/, { timeoutMs: 10_000 });
    await stillWorks();
  });

  it("moderate recursion is fine", async () => {
    assert.equal(await engine.evaluate("function g(n) { return n === 0 ? 0 : 1 + g(n - 1); } g(1000)", {}), 1000);
  });

  it("a native builtin that cannot be interrupted is stopped all the same, and the sandbox comes back", async () => {
    const restarts = engine.stats().workerRestarts;
    await fails(
      "new Array(1e9).indexOf(1)",
      "timeout",
      /^the script (used more than|was still running after \d+ ms by the wall clock, short of) its 100 ms of CPU time.* and was stopped$/,
      {
        timeoutMs: 100,
      },
    );
    // Its thread was terminated at the backstop, not left to finish the search (QuickJS would then have said so without "and was stopped").
    assert.equal(engine.stats().workerRestarts, restarts + 1);
    await stillWorks();
  });

  it("an input larger than the memory limit is refused before it is sent", async () => {
    await assert.rejects(
      engine.evaluate("1", { big: "x".repeat(2048) }, { memoryBytes: 1024 }),
      (e: unknown) => e instanceof ScriptError && e.kind === "memory",
    );
  });

  it("limits can be raised per call", async () => {
    assert.equal(
      await engine.evaluate("var a = []; for (var i = 0; i < 300000; i++) a.push(i); a.length", {}, { memoryBytes: 64 * 1024 * 1024, timeoutMs: 10_000 }),
      300000,
    );
  });
});

describe("no way out to the host", () => {
  const escapes: [string, RegExp][] = [
    ["process.exit(1)", /'process' is not defined/],
    ["require('fs')", /'require' is not defined/],
    ["fetch('http://127.0.0.1/')", /'fetch' is not defined/],
    ["import('fs')", /could not load module/],
    ["import('node:child_process')", /could not load module/],
    ["this.constructor.constructor('return process')().exit()", /'process' is not defined/],
    ["setTimeout(function () {}, 1)", /'setTimeout' is not defined/],
    ["new WebAssembly.Module(new Uint8Array(8))", /'WebAssembly' is not defined/],
    ["Buffer.from('x')", /'Buffer' is not defined/],
  ];
  for (const [source, message] of escapes) {
    it(source, async () => {
      const exitCode = process.exitCode;
      await fails(source, "runtime", message);
      assert.equal(process.exitCode, exitCode);
      await stillWorks();
    });
  }

  it("static import is a syntax error, not a module load", async () => {
    await fails("import fs from 'fs'; fs", "syntax");
  });

  it("the global object holds only the language's built-ins", async () => {
    const names = (await engine.evaluate("Object.getOwnPropertyNames(globalThis)", {})) as string[];
    for (const name of ["process", "require", "module", "fetch", "Buffer", "setTimeout", "queueMicrotask", "__batonInput", "std", "os"]) {
      assert.ok(!names.includes(name), `${name} is visible`);
    }
  });
});

describe("no harm carried between scripts", () => {
  it("globals and prototypes start fresh each time", async () => {
    await engine.evaluate("globalThis.leak = 1; Array.prototype.map = null; Object.prototype.polluted = true; $ = 5; 0", {});
    assert.equal(await engine.evaluate("typeof leak", {}), "undefined");
    assert.deepEqual(await engine.evaluate("[1, 2].map(function (x) { return x * 2; })", {}), [2, 4]);
    assert.equal(await engine.evaluate("({}).polluted === undefined", {}), true);
    assert.equal(await engine.evaluate("$.n", { n: 3 }), 3);
  });

  it("a script replacing JSON.stringify cannot forge its result", async () => {
    assert.deepEqual(await engine.evaluate("JSON.stringify = function () { return 'forged'; }; ({ real: true })", {}), { real: true });
  });

  it("10,000 evaluations leave the sandbox's memory bounded", async () => {
    const bindings = { items: Array.from({ length: 50 }, (_, i) => ({ id: i, name: `item-${i}` })) };
    for (let i = 0; i < 500; i++) await engine.evaluate("$.items.length", bindings);
    const warm = engine.stats();
    for (let i = 0; i < 10_000; i++) {
      const result = await engine.evaluate(
        "(function () { var out = []; for (var j = 0; j < $.items.length; j++) out.push($.items[j].name); return out.length + $.i; })()",
        { ...bindings, i },
      );
      if (result !== 50 + i) assert.fail(`wrong result ${String(result)} at ${i}`);
    }
    const end = engine.stats();
    assert.equal(end.workerRestarts, warm.workerRestarts, "the worker was replaced: something leaked or aborted");
    assert.ok(
      end.wasmMemoryBytes <= Math.max(warm.wasmMemoryBytes, 64 * 1024 * 1024),
      `wasm memory grew from ${warm.wasmMemoryBytes} to ${end.wasmMemoryBytes}`,
    );
  });
});
