// Per-type rules for Conductor's system tasks: the fields each one cannot run without.
import { UNSERVED_TASK_TYPES } from "../def.js";
import { MAX_FORK_BRANCHES } from "../fork-limit.js";
import { quoted } from "@baton/json";
import type { ValidationIssue } from "./issue.js";
import { pointer } from "./pointer.js";
import { isObj, str, taskType, walkTasks, type Obj, type TaskSite } from "./tree.js";

const SWITCH_EVALUATORS = ["value-param", "javascript", "graaljs"];
const TERMINATION_STATUSES = ["COMPLETED", "FAILED", "TERMINATED"];

type Rule = (site: TaskSite, errors: ValidationIssue[]) => void;

const rules: Record<string, Rule> = {
  SWITCH({ task, path }, errors) {
    const evaluator = task["evaluatorType"];
    if (typeof evaluator !== "string" || !SWITCH_EVALUATORS.includes(evaluator)) {
      errors.push({
        path: pointer(path, "evaluatorType"),
        message: `SWITCH needs evaluatorType ${SWITCH_EVALUATORS.join(" | ")}`,
      });
    }
    if (!str(task["expression"])) {
      errors.push({ path: pointer(path, "expression"), message: "SWITCH needs an expression" });
    }
  },

  DECISION({ task, path }, errors) {
    if (!str(task["caseValueParam"]) && !str(task["caseExpression"])) {
      errors.push({
        path: pointer(path, "caseValueParam"),
        message: "DECISION needs caseValueParam or caseExpression",
      });
    }
  },

  FORK_JOIN(site, errors) {
    const { task, path } = site;
    const forks = task["forkTasks"];
    if (!Array.isArray(forks) || forks.length === 0) {
      errors.push({ path: pointer(path, "forkTasks"), message: "FORK_JOIN needs at least one branch" });
    } else if (forks.length > MAX_FORK_BRANCHES) {
      errors.push({
        path: pointer(path, "forkTasks"),
        message: `FORK_JOIN has ${forks.length} branches, over the ${MAX_FORK_BRANCHES} a fork may start; fork sub-workflows that each start a part`,
      });
    } else {
      forks.forEach((branch, b) => {
        if (!Array.isArray(branch) || branch.length === 0) {
          errors.push({ path: pointer(path, "forkTasks", b), message: "a FORK_JOIN branch needs at least one task" });
        }
      });
    }
    const join = followingJoin(site, "FORK_JOIN", errors);
    if (join && Array.isArray(forks)) checkJoinOn(join, branchRefs(forks, path), errors);
  },

  FORK_JOIN_DYNAMIC(site, errors) {
    const { task, path } = site;
    const input = isObj(task["inputParameters"]) ? task["inputParameters"] : {};
    const byParams = str(task["dynamicForkTasksParam"]) && str(task["dynamicForkTasksInputParamName"]);
    const byLegacyParam = str(task["dynamicForkJoinTasksParam"]);
    const byTaskName = "forkTaskName" in input && "forkTaskInputs" in input;
    if (!byParams && !byLegacyParam && !byTaskName) {
      errors.push({
        path: pointer(path, "dynamicForkTasksParam"),
        message: "FORK_JOIN_DYNAMIC needs dynamicForkTasksParam and dynamicForkTasksInputParamName, " + "or inputParameters forkTaskName and forkTaskInputs",
      });
    }
    followingJoin(site, "FORK_JOIN_DYNAMIC", errors);
  },

  DO_WHILE({ task, path }, errors) {
    // A loop over `items` (a field, or an input as Conductor reads it) ends with
    // the list, so it may omit the condition.
    const input = isObj(task["inputParameters"]) ? task["inputParameters"] : {};
    const hasItems = task["items"] !== undefined || input["items"] !== undefined;
    if (!str(task["loopCondition"]) && !hasItems) {
      errors.push({ path: pointer(path, "loopCondition"), message: "DO_WHILE needs a loopCondition" });
    }
    const body = task["loopOver"];
    if (!Array.isArray(body) || body.length === 0) {
      errors.push({ path: pointer(path, "loopOver"), message: "DO_WHILE needs at least one task in loopOver" });
    }
    // Conductor documents nested loops as unsupported; refused here rather than left to stall the run.
    for (const inner of walkTasks(body, pointer(path, "loopOver"))) {
      if (taskType(inner.task) === "DO_WHILE" && !errors.some((e) => e.path === inner.path)) {
        errors.push({
          path: inner.path,
          message:
            "a DO_WHILE inside a DO_WHILE's loopOver is not supported (as in Conductor): put the inner loop in a SUB_WORKFLOW and call that from the outer loop",
        });
      }
    }
  },

  SUB_WORKFLOW({ task, path }, errors) {
    const params = task["subWorkflowParam"];
    const named = isObj(params) && str(params["name"]);
    const inline = isObj(params) && params["workflowDefinition"] !== undefined && params["workflowDefinition"] !== null;
    if (!named && !inline) {
      errors.push({
        path: pointer(path, "subWorkflowParam"),
        message: "SUB_WORKFLOW needs subWorkflowParam with a name or a workflowDefinition",
      });
    }
  },

  DYNAMIC({ task, path }, errors) {
    if (!str(task["dynamicTaskNameParam"])) {
      errors.push({ path: pointer(path, "dynamicTaskNameParam"), message: "DYNAMIC needs dynamicTaskNameParam" });
    }
  },

  TERMINATE({ task, path }, errors) {
    const input = task["inputParameters"];
    const status = isObj(input) ? input["terminationStatus"] : undefined;
    // An expression is resolved at run time, so only a literal can be checked here.
    const ok = typeof status === "string" && (TERMINATION_STATUSES.includes(status) || status.includes("${"));
    if (!ok) {
      errors.push({
        path: pointer(path, "inputParameters", "terminationStatus"),
        message: `TERMINATE needs inputParameters.terminationStatus ${TERMINATION_STATUSES.join(" | ")}`,
      });
    }
  },
};

/** The JOIN right after a fork in the same list, or an error if there is none. */
function followingJoin({ siblings, index, path }: TaskSite, kind: string, errors: ValidationIssue[]): TaskSite | undefined {
  const next = siblings[index + 1];
  if (isObj(next) && taskType(next) === "JOIN") {
    return { task: next, path: path.replace(/\/\d+$/, `/${index + 1}`), siblings, index: index + 1 };
  }
  errors.push({ path, message: `${kind} must be followed by a JOIN in the same task list` });
  return undefined;
}

/** Every reference name inside the fork's branches, at any depth. */
function branchRefs(forks: unknown[], forkPath: string): Set<string> {
  const refs = new Set<string>();
  forks.forEach((branch, b) => {
    for (const { task } of walkTasks(branch, pointer(forkPath, "forkTasks", b))) {
      const ref = str(task["taskReferenceName"]);
      if (ref) refs.add(ref);
    }
  });
  return refs;
}

function checkJoinOn(join: TaskSite, refs: Set<string>, errors: ValidationIssue[]): void {
  const joinOn = (join.task as Obj)["joinOn"];
  if (!Array.isArray(joinOn)) return;
  joinOn.forEach((ref, i) => {
    if (typeof ref === "string" && !refs.has(ref)) {
      errors.push({
        path: pointer(join.path, "joinOn", i),
        message: `JOIN waits on ${quoted(ref)}, which is not a task in the fork's branches`,
      });
    }
  });
}

/** Errors for system tasks that lack the fields their type needs, and for types Baton does not run. */
export function systemTaskIssues(sites: TaskSite[]): ValidationIssue[] {
  const errors: ValidationIssue[] = [];
  for (const site of sites) {
    const type = taskType(site.task);
    if ((UNSERVED_TASK_TYPES as ReadonlySet<string>).has(type)) {
      errors.push({
        path: pointer(site.path, "type"),
        message: `Baton does not run ${type} tasks (Conductor's ${type === "KAFKA_PUBLISH" ? "Kafka module" : "server plugins"}); do the work in a worker task (type SIMPLE) instead`,
      });
    }
    rules[type]?.(site, errors);
  }
  return errors;
}
