#!/usr/bin/env node
// The `baton` executable.
import { run } from "./program.js";

const code = await run(process.argv);
// Let piped output drain before leaving (open handles may not keep us alive).
process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
