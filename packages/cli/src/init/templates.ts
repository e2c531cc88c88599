// The files of a new flow project (`baton init`): a flow, its worker and its
// test, under strict TypeScript. Dependencies are filled in by the command.

export const HELLO_FLOW = `// A flow. Declare each task type once, with its input and output types (the
// worker may be written in any language), then write the steps with typed
// references: a misspelled field or a wrong type does not compile.
import { taskType, workflow } from "@baton/sdk";

export const greet = taskType<{ name: string }, { greeting: string }>("greet", { retryCount: 2, responseTimeoutSeconds: 30 });
export const shout = taskType<{ text: string }, { text: string }>("shout");

export const hello = workflow("hello", { version: 1, timeoutSeconds: 300, timeoutPolicy: "TIME_OUT_WF" })
  .input<{ name: string }>("name") // required: a start without it is refused
  .steps((wf) => {
    const greeting = greet.step("greet", { name: wf.input.name });
    const loud = shout.step("shout", { text: greeting.output.greeting });
    return { message: loud.output.text };
  });
`;

export const WORKER = `// The worker for the flow's task types: \`npm run worker\` (BATON_ADDRESS, default 127.0.0.1:7233).
import { TerminalError, Worker } from "@baton/client";
import { greet, shout } from "./flows/hello.js";

const worker = new Worker(); // BATON_TOKEN: a worker key, when the server requires keys
worker.handle(greet, async ({ name }) => {
  if (!name) throw new TerminalError("name is required"); // fails for good, no retry
  return { greeting: \`Hello, \${name}!\` };
});
worker.handle(shout, async ({ text }) => ({ text: text.toUpperCase() }), { concurrency: 4 });
worker.start();
console.log(\`worker for greet and shout, server \${worker.client.address}; Ctrl-C stops it\`);
process.on("SIGINT", () => void worker.stop());
`;

export const HELLO_TEST = `// The flow on a real server and PostgreSQL, in this process, with the task types mocked.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { TestEnvironment } from "@baton/testing";
import { greet, hello, shout } from "../src/flows/hello.js";

let env: TestEnvironment;
before(async () => {
  env = await TestEnvironment.create();
});
after(() => env.close());

test("hello greets, loudly", async () => {
  env.mock(greet, async ({ name }) => ({ greeting: \`Hello, \${name}!\` }));
  env.mock(shout, async ({ text }) => ({ text: text.toUpperCase() }));
  const run = await env.execute(hello, { name: "you" });
  assert.equal(run.status, "COMPLETED");
  assert.deepEqual(run.output, { message: "HELLO, YOU!" });
});
`;

export const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2023"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    noEmit: true,
    types: ["node"],
  },
  include: ["src", "test"],
};

export const GITIGNORE = "node_modules/\ndist/\n.baton/\n";

export const README = (name: string) => `# ${name}

Baton flows in TypeScript.

\`\`\`sh
npm install
npm test                 # type-checks, then runs test/*.test.ts on a real server and PostgreSQL
npx baton compile        # src/flows -> dist/flows/*.json (Conductor JSON)
npx baton dev            # a server on an embedded PostgreSQL, 127.0.0.1:7233 (another terminal)
npm run worker           # the worker for greet and shout (another terminal)
npx baton publish src/flows
npx baton start hello --input '{"name":"you"}' --wait
\`\`\`

The Baton packages come from \`vendor/baton/\` (tarballs made with \`npm run pack\`
in a Baton checkout); commit them with the project, or replace them with newer ones.
`;
