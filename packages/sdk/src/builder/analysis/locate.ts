// Maps a JSON pointer in the compiled definition back to the builder call that made it.
import type { StepSite } from "../compile-steps.js";
import type { SourceLocation } from "../location.js";

export function siteAt(sites: readonly StepSite[], path: string): StepSite | undefined {
  let best: StepSite | undefined;
  for (const site of sites) {
    const inside = path === site.path || path.startsWith(site.path + "/");
    if (inside && (!best || site.path.length > best.path.length)) best = site;
  }
  return best;
}

export function locationAt(sites: readonly StepSite[], path: string, fallback: SourceLocation | undefined): SourceLocation | undefined {
  return siteAt(sites, path)?.node.location ?? fallback;
}
