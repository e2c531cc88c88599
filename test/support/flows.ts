// Flow definitions more than one test uses.

/** A flow of `tasks` (version 1, schema 2), with `outputParameters` when given. */
export function flowOf(name: string, tasks: object[], outputParameters?: Record<string, unknown>) {
  return { name, version: 1, schemaVersion: 2, tasks, ...(outputParameters ? { outputParameters } : {}) };
}

/** A FORK_JOIN ("fork") of one worker task per branch (`branches`: its reference → its task type), joined ("join") on all of them. */
export function forkOfTasks(name: string, branches: Record<string, string>, outputParameters?: Record<string, string>) {
  const refs = Object.keys(branches);
  return flowOf(
    name,
    [
      {
        name: "fork",
        taskReferenceName: "fork",
        type: "FORK_JOIN",
        forkTasks: refs.map((ref) => [{ name: branches[ref]!, taskReferenceName: ref, type: "SIMPLE" }]),
      },
      { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: refs },
    ],
    outputParameters,
  );
}

/** A flow of one DO_WHILE, reference "loop", around `loopOver`. */
export function oneLoop(
  name: string,
  loop: { inputParameters: Record<string, unknown>; loopCondition?: string; loopOver: object[] },
  outputParameters?: Record<string, string>,
) {
  return flowOf(name, [{ name: "loop", taskReferenceName: "loop", type: "DO_WHILE", ...loop }], outputParameters);
}

/**
 * A FORK_JOIN_DYNAMIC (reference "fork") of one `forkTaskName` task per item
 * of the input's `items`, then its JOIN ("join"), then the tasks of `then`.
 */
export function forkOverItems(name: string, forkTaskName: string, then: object[] = [], outputParameters?: Record<string, string>) {
  return flowOf(
    name,
    [
      {
        name: "fork",
        taskReferenceName: "fork",
        type: "FORK_JOIN_DYNAMIC",
        inputParameters: { forkTaskName, forkTaskInputs: "${workflow.input.items}" },
      },
      { name: "join", taskReferenceName: "join", type: "JOIN" },
      ...then,
    ],
    outputParameters,
  );
}

/** A flow of one WAIT task ("hold") whose input holds `items` small objects (about 40 bytes each): a large definition. */
export function holdingItems(name: string, items: number) {
  return flowOf(name, [
    {
      name: "hold",
      taskReferenceName: "hold",
      type: "WAIT",
      inputParameters: { items: Array.from({ length: items }, (_, i) => ({ id: i, label: `item ${i}` })) },
    },
  ]);
}

/** A FORK_JOIN_DYNAMIC ("fork") of the tasks listed in the input's `tasks`, with no input of their own, then its JOIN ("join"). */
export function forkOfListedTasks(name: string) {
  return flowOf(name, [
    {
      name: "fork",
      taskReferenceName: "fork",
      type: "FORK_JOIN_DYNAMIC",
      inputParameters: { dynamicTasks: "${workflow.input.tasks}", dynamicTasksInput: {} },
      dynamicForkTasksParam: "dynamicTasks",
      dynamicForkTasksInputParamName: "dynamicTasksInput",
    },
    { name: "join", taskReferenceName: "join", type: "JOIN" },
  ]);
}
