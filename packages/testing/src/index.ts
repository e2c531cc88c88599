// @baton/testing: test flows in-process against a real server and PostgreSQL,
// with mocked steps and a clock the test moves.
export {
  TestEnvironment,
  type TestEnvironmentOptions,
  type MockOptions,
  type MockCall,
  type DriveOptions,
  type ExecuteOptions,
  type TestRun,
} from "./environment.js";
export { toMillis, type Duration } from "./duration.js";
export { TerminalError, inProgress, type TaskContext } from "@baton/client";
