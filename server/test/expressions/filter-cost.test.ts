// A JSONPath filter's work is bounded, not only its steps (issue 14, point 2).
// Before, a string method counted one step whatever it scanned: a filter
// calling includes() on a 2 MiB string once per item scanned gigabytes on the
// serving thread under the step cap, held back only by a time backstop read
// every 1,024 steps.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compilePath } from "../../src/expressions/path.js";

const MiB = 1024 * 1024;

describe("JSONPath filter cost", () => {
  it("charges a method call for the length it scans: a query scanning too much reads as missing", () => {
    const root = { big: "a".repeat(2 * MiB), items: Array.from({ length: 1_000 }, (_, i) => ({ i })) };
    assert.deepEqual(compilePath("$.items[?(@root.big.includes('zz'))]").read(root), { found: false });
    // The same filter on a short string answers.
    assert.deepEqual(compilePath("$.items[?(@root.small.includes('zz'))].i").read({ ...root, small: "zz" }).found, true);
  });

  it("lets ordinary filters over long strings answer", () => {
    const root = { items: Array.from({ length: 50 }, (_, i) => ({ name: `${"x".repeat(10_000)}${i}` })) };
    const read = compilePath("$.items[?(@.name.endsWith('7'))].name").read(root);
    assert.equal(read.found, true);
    assert.equal((read as { value: unknown[] }).value.length, 5);
  });
});
