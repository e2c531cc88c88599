// Rules on the shape of the step tree: names, bodies, joins, undeclared task types.
import type { StepSite } from "../compile-steps.js";
import type { Diagnostic } from "../diagnostics.js";
import type { StepNode } from "../step.js";

const error = (code: Diagnostic["code"], site: StepSite, message: string, path = site.path): Diagnostic => ({
  code,
  severity: "error",
  message,
  path,
  ...(site.node.location ? { location: site.node.location } : {}),
});

export function duplicateRefs(sites: readonly StepSite[]): Diagnostic[] {
  const first = new Map<string, StepSite>();
  const out: Diagnostic[] = [];
  for (const site of sites) {
    const seen = first.get(site.node.ref);
    if (!seen) first.set(site.node.ref, site);
    else {
      out.push(
        error(
          "BATON101",
          site,
          `reference name "${site.node.ref}" is already used by the step at ${seen.path}; give one of them another ref`,
          `${site.path}/taskReferenceName`,
        ),
      );
    }
  }
  return out;
}

export function emptyBodies(sites: readonly StepSite[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const site of sites) {
    const { node } = site;
    if (node.type === "FORK_JOIN") {
      if (!node.forkTasks?.length) out.push(error("BATON105", site, `fork "${node.ref}" has no branches`));
      node.forkTasks?.forEach((b, i) => {
        if (b.length === 0) out.push(error("BATON105", site, `branch ${i} of fork "${node.ref}" has no steps`, `${site.path}/forkTasks/${i}`));
      });
    }
    if (node.type === "DO_WHILE" && !node.loopOver?.length) {
      out.push(error("BATON105", site, `loop "${node.ref}" has no steps in its body`));
    }
    if ((node.type === "SWITCH" || node.type === "DECISION") && !node.decisionCases?.length) {
      out.push(error("BATON105", site, `switch "${node.ref}" has no cases`));
    }
  }
  return out;
}

export function joinTails(sites: readonly StepSite[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const site of sites) {
    const join = site.node.join;
    if (!join) continue;
    const tails = new Set<StepNode>(join.branches.map((b) => b.at(-1)).filter((n) => n !== undefined));
    join.on.forEach((n, i) => {
      if (!tails.has(n)) {
        out.push(
          error(
            "BATON104",
            site,
            `join "${site.node.ref}" waits on "${n.ref}", which is not the last step of a branch of its fork`,
            `${site.path}/joinOn/${i}`,
          ),
        );
      }
    });
  }
  return out;
}

export function undeclaredTaskTypes(sites: readonly StepSite[], hasTaskDef: ((name: string) => boolean) | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const site of sites) {
    if (!site.node.undeclared || hasTaskDef?.(site.node.name)) continue;
    out.push(error("BATON106", site, `task type "${site.node.name}" is not declared with taskType() and has no task definition`, `${site.path}/name`));
  }
  return out;
}
