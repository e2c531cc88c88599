// Flow definitions more than one test uses.

/** A fork of two worker tasks, references "left" and "right", joined. */
export function twoBranches(name: string, [left, right]: [string, string], outputParameters?: Record<string, string>) {
  return {
    name,
    version: 1,
    schemaVersion: 2,
    tasks: [
      {
        name: "fork",
        taskReferenceName: "fork",
        type: "FORK_JOIN",
        forkTasks: [[{ name: left, taskReferenceName: "left", type: "SIMPLE" }], [{ name: right, taskReferenceName: "right", type: "SIMPLE" }]],
      },
      { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: ["left", "right"] },
    ],
    ...(outputParameters ? { outputParameters } : {}),
  };
}

/** A flow of one DO_WHILE, reference "loop", around `loopOver`. */
export function oneLoop(
  name: string,
  loop: { inputParameters: Record<string, unknown>; loopCondition?: string; loopOver: object[] },
  outputParameters?: Record<string, string>,
) {
  return {
    name,
    version: 1,
    schemaVersion: 2,
    tasks: [{ name: "loop", taskReferenceName: "loop", type: "DO_WHILE", ...loop }],
    ...(outputParameters ? { outputParameters } : {}),
  };
}

/**
 * A FORK_JOIN_DYNAMIC (reference "fork") of one `forkTaskName` task per item
 * of the input's `items`, then its JOIN ("join"), then the tasks of `then`.
 */
export function forkOverItems(name: string, forkTaskName: string, then: object[] = [], outputParameters?: Record<string, string>) {
  return {
    name,
    version: 1,
    schemaVersion: 2,
    tasks: [
      {
        name: "fork",
        taskReferenceName: "fork",
        type: "FORK_JOIN_DYNAMIC",
        inputParameters: { forkTaskName, forkTaskInputs: "${workflow.input.items}" },
      },
      { name: "join", taskReferenceName: "join", type: "JOIN" },
      ...then,
    ],
    ...(outputParameters ? { outputParameters } : {}),
  };
}
