// Which fields of `$.loop` a loopCondition reads: fixed ones only when no
// other way to the loop's output (or to `$`) is open; anything else is "all".
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fieldsRead } from "../../src/sandbox/script-reads.js";

describe("fieldsRead", () => {
  it("finds the fixed fields a condition reads", () => {
    assert.deepEqual(fieldsRead("if ($.loop['iteration'] < $.value) { true; } else { false;} ", "loop"), ["iteration"]);
    assert.deepEqual(fieldsRead("(function () {if ($.loop.iteration < $.n) {return true;} return false;})();", "loop"), ["iteration"]);
    assert.deepEqual(fieldsRead("$.loop['iteration'] < 3 && $.loop['2'].s.result > 1 && $.loop[1] !== undefined", "loop"), ["iteration", "2", "1"]);
    assert.deepEqual(fieldsRead("$.loop?.iteration < $.list.length", "loop"), ["iteration"]);
    assert.deepEqual(fieldsRead("$.other.x > 0 && $.items[$.loop.iteration - 1] !== undefined", "loop"), ["iteration"]);
    assert.deepEqual(fieldsRead("$.value > 0", "loop"), [], "a condition that does not read the loop's output needs none of it");
  });

  it("gives up when the loop's output, or `$`, may be read another way", () => {
    for (const source of [
      "Object.keys($.loop).length < 3",
      "JSON.stringify($.loop).length < 100",
      "var l = $.loop; l.iteration < 3",
      "var { loop } = $; loop.iteration < 3",
      "var { iteration } = $.loop; iteration < 3",
      "$.loop[$.k] !== undefined",
      "$['lo' + 'op'].iteration < 3",
      "$[k].iteration < 3",
      "'3' in $.loop",
      "for (var k in $.loop) {} true",
      "$.loop.hasOwnProperty('3')",
      "$.loop.toString() !== ''",
      "$.loop['__proto__'] !== null",
      "this.$.loop.iteration < 3",
      "globalThis['$'].loop.iteration < 3",
      "eval('$').loop.iteration < 3",
      "Function('return $')().loop.iteration < 3",
      "[].map['constructor']('return $')().loop.iteration < 3",
      "(function () { return this; })().$.loop.iteration < 3",
      "[].map[k]('return $')()",
      "with ($) { loop.iteration < 3 }",
      "function f($) { return $.loop.iteration; } f($)",
      "if ($.loop['iteration'] <",
      "x".repeat(70_000),
    ]) {
      assert.equal(fieldsRead(source, "loop"), undefined, source.slice(0, 60));
    }
  });

  it("keeps its answer per script and name", () => {
    assert.deepEqual(fieldsRead("$.a.x + $.b.y", "a"), ["x"]);
    assert.deepEqual(fieldsRead("$.a.x + $.b.y", "b"), ["y"]);
  });
});
