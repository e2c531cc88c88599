// What every scenario reports, for Baton and each peer alike.

export const SCENARIOS = [
  "throughput",
  "dispatch",
  "startAndWait",
  "fanout",
  "backlog",
  "replicas",
  "memory",
  "polyglot",
  "console",
  "fairness",
  "conductorSdk",
  "hostile",
  "jq",
  "retention",
  "subworkflows",
  "events",
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export const SYSTEMS = ["baton", "conductor", "conductor-postgres", "temporal", "graphile-worker"] as const;
export type SystemName = (typeof SYSTEMS)[number];

export type Status = "ok" | "partial" | "failed" | "not run" | "not applicable";

export interface ScenarioResult {
  scenario: ScenarioName;
  system: SystemName;
  status: Status;
  /** Why it failed, was not run, or only partly ran. */
  reason?: string;
  /** Headline numbers (see HEADLINES for which one the ratios use). */
  metrics: Record<string, number>;
  /** Anything else worth keeping: counts, settings, cost breakdowns. */
  details?: Record<string, unknown>;
  /** Wall time the scenario took, seconds. */
  seconds: number;
}

/** Which metric stands for a scenario in ratios and charts, and which way is better. */
export const HEADLINES: Record<ScenarioName, { metric: string; label: string; unit: string; better: "higher" | "lower" }[]> = {
  throughput: [
    { metric: "tasksPerSecond", label: "task completions/s", unit: "/s", better: "higher" },
    { metric: "runsPerSecond", label: "runs/s", unit: "/s", better: "higher" },
  ],
  dispatch: [
    { metric: "p50Ms", label: "dispatch p50", unit: "ms", better: "lower" },
    { metric: "p99Ms", label: "dispatch p99", unit: "ms", better: "lower" },
  ],
  startAndWait: [
    { metric: "p50Ms", label: "start-and-wait p50", unit: "ms", better: "lower" },
    { metric: "p99Ms", label: "start-and-wait p99", unit: "ms", better: "lower" },
  ],
  fanout: [
    { metric: "smallSeconds", label: "fan-out small", unit: "s", better: "lower" },
    { metric: "largeSeconds", label: "fan-out large", unit: "s", better: "lower" },
  ],
  backlog: [
    { metric: "backlogP50Ms", label: "dispatch p50 with backlog", unit: "ms", better: "lower" },
    { metric: "backlogP99Ms", label: "dispatch p99 with backlog", unit: "ms", better: "lower" },
  ],
  replicas: [{ metric: "tasksPerSecond", label: "2 replicas task completions/s", unit: "/s", better: "higher" }],
  memory: [{ metric: "rssMb", label: "RSS with waiting runs", unit: "MB", better: "lower" }],
  polyglot: [{ metric: "tasksPerSecond", label: "polyglot task completions/s (best worker)", unit: "/s", better: "higher" }],
  console: [
    { metric: "listP99Ms", label: "runs list p99 (1,000,000 runs stored)", unit: "ms", better: "lower" },
    { metric: "wideRunInteractiveMs", label: "10,000-task run drawn and interactive", unit: "ms", better: "lower" },
  ],
  fairness: [
    { metric: "smallUnderFloodP99Ms", label: "small key dispatch p99 under another key's flood", unit: "ms", better: "lower" },
    { metric: "floodKeyedTasksPerSecond", label: "keyed flood task completions/s", unit: "/s", better: "higher" },
  ],
  conductorSdk: [
    { metric: "tasksPerSecond", label: "Conductor JS SDK worker over REST: task completions/s", unit: "/s", better: "higher" },
    { metric: "p50Ms", label: "Conductor JS SDK worker over REST: dispatch p50", unit: "ms", better: "lower" },
  ],
  hostile: [
    { metric: "healthP99Ms", label: "/healthz p99 under a hostile tenant (goal < 100 ms)", unit: "ms", better: "lower" },
    { metric: "serverLoopLagP99Ms", label: "server event-loop lag p99 under a hostile tenant", unit: "ms", better: "lower" },
    {
      metric: "largePublishHealthP99CorrectedMs",
      label: "/healthz p99 (fixed-rate, corrected) during 4 publishes at once of 3.94 MiB (goal < 100 ms)",
      unit: "ms",
      better: "lower",
    },
    {
      metric: "largeRestPublishHealthP99CorrectedMs",
      label: "/healthz p99 (fixed-rate, corrected) during 4 REST publishes at once of 3.94 MiB (goal < 100 ms)",
      unit: "ms",
      better: "lower",
    },
    {
      metric: "wideRunHealthP99CorrectedMs",
      label: "/healthz p99 (fixed-rate, corrected) while 5,000-branch forks start and are read whole (goal < 100 ms)",
      unit: "ms",
      better: "lower",
    },
  ],
  jq: [
    { metric: "echoMs", label: "JSON_JQ_TRANSFORM echoing a 1 MB input", unit: "ms", better: "lower" },
    { metric: "sizeRatio", label: "JSON_JQ_TRANSFORM time, 4 MB over 1 MB (4 is linear)", unit: "x", better: "lower" },
  ],
  subworkflows: [
    { metric: "childrenPerSecond", label: "sub-workflow child runs/s (parents forking children of 3 worker tasks)", unit: "/s", better: "higher" },
    { metric: "smallUnderLoadP99Ms", label: "independent flow dispatch p99 while parents fork children", unit: "ms", better: "lower" },
  ],
  events: [
    { metric: "startPerSecond", label: "events handled/s, a backlog with a handler starting a run each", unit: "/s", better: "higher" },
    { metric: "noHandlerPerSecond", label: "events handled/s, a backlog with no handler", unit: "/s", better: "higher" },
  ],
  retention: [
    { metric: "hopP99OnMs", label: "result -> next step held p99 with the reaper removing ended runs", unit: "ms", better: "lower" },
    {
      metric: "tablesMbEndOn",
      label: "runs, tasks, queue and log tables at the end of a leg (six retention periods or more), reaper on",
      unit: "MB",
      better: "lower",
    },
  ],
};

export interface Counts {
  throughputRuns: number;
  dispatchRuns: number;
  startAndWaitRuns: number;
  fanoutSmall: number;
  fanoutLarge: number;
  backlogQueued: number;
  backlogFinished: number;
  backlogSamples: number;
  replicaRuns: number;
  memoryRuns: number;
  /** Runs one key queues at once in the fairness scenario, and runs the small key starts. */
  fairnessFlood: number;
  fairnessSmall: number;
  /** The hostile scenario: NOOP iterations of each long loop, times every hostile run is started, pairs of \" in its JSON. */
  hostileIterations: number;
  hostileRepeats: number;
  hostileJsonQuotes: number;
  /** Items of the jq scenario's smaller input (about 1 MB at 30,000); the larger has four times as many. */
  jqItems: number;
  /** Seconds of load in each leg of the retention scenario (reaper on, reaper off). */
  retentionLegSeconds: number;
  /** The sub-workflow scenario: parents started (8 at a time), SUB_WORKFLOW children each forks. */
  subParents: number;
  subChildren: number;
  /** Children of the one tree another key's small flow runs beside. */
  subTree: number;
  /** The events scenario: events published through PublishEvent, a backlog with no handler, a backlog whose handler starts a run each. */
  eventsPublished: number;
  eventsBacklog: number;
  eventsStarts: number;
  /** Worker concurrency per task type. */
  concurrency: number;
  /** Starts in flight at once. */
  startConcurrency: number;
}

export interface BenchOptions {
  quick: boolean;
  only: ScenarioName[];
  peers: SystemName[];
  counts: Counts;
  /** The peers' counts: fewer runs in the full mode, so the whole bench stays within its time (rates are steady-state either way). */
  peerCounts: Counts;
  backlogScale: number;
  profile: boolean;
  /** Run Baton's scenarios (off with --no-baton, to rerun peers alone). */
  baton: boolean;
  /** Replace only this run's (system, scenario) results in the report already in outDir. */
  merge: boolean;
  outDir: string;
  databaseUrl?: string;
  /** Longest any one scenario may take, seconds. */
  scenarioTimeoutS: number;
  /** The retention scenario: runs started per second, whatever is in flight (0: a closed loop); the legs' order (reaper on or off). */
  retention: { rate: number; legs?: ("on" | "off")[] };
  log: (line: string) => void;
}
