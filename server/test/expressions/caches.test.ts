// Expression caches are bounded by bytes, not only by count (issue 14, point
// 12). Before, compiled paths and templates were kept up to 10,000 entries
// whatever their size, and jsonpath-plus's cache of split paths and compiled
// filters (a plain object) kept one entry per distinct text forever.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compilePath } from "../../src/expressions/path.js";
import { cacheSizes, CACHE_BYTES } from "../../src/expressions/memo.js";
import { parseTemplate } from "../../src/expressions/template.js";

const root = { items: [{ name: "a" }, { name: "b" }] };

describe("expression caches", () => {
  it("hold at most their byte budget however large and many the expressions", () => {
    const long = "x".repeat(16 * 1024);
    for (let i = 0; i < 3_000; i++) {
      compilePath(`$.a['${long}${i}']`).read(root);
      parseTemplate(`\${workflow.input.${long}${i}}`);
      // Filters go through jsonpath-plus: its cache takes the split path and the compiled filter.
      compilePath(`$.items[?(@.name == '${long}${i}')]`).read(root);
    }
    const sizes = cacheSizes();
    for (const name of ["paths", "templates", "jsonpath"]) {
      const cache = sizes[name];
      assert.ok(cache, `cache ${name} is listed`);
      assert.ok(cache.bytes <= CACHE_BYTES, `${name} holds ${cache.bytes} bytes`);
      assert.ok(cache.entries > 0 && cache.entries < 3_000, `${name} holds ${cache.entries} entries`);
    }
  });

  it("still answer a filter after its compiled form was evicted", () => {
    const path = "$.items[?(@.name == 'b')].name";
    assert.deepEqual(compilePath(path).read(root), { found: true, value: ["b"] });
    const long = "y".repeat(16 * 1024);
    for (let i = 0; i < 500; i++) compilePath(`$.items[?(@.name == '${long}${i}')]`).read(root);
    assert.deepEqual(compilePath(path).read(root), { found: true, value: ["b"] });
  });
});
