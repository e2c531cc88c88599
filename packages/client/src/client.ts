// The admin client: every metadata and workflow operation, with JSON payloads
// as plain values and runs in Conductor's shape (one method a call; where it
// connects is connection.ts, the values it returns views.ts and conductor.ts).
import {
  EventService,
  RouteService,
  MetadataService,
  RetentionService,
  RunOrder,
  ScheduleService,
  TaskService,
  TaskStatus,
  VersionPolicy,
  WorkflowService,
  WorkflowStatus,
  createClient,
  everyPage,
  everyPageOfNames,
  grpc,
  parseJson,
  stringifyJson,
  type ServiceClient,
  type WorkflowDefSummary,
} from "@baton/protocol";
import { toConductorWorkflow, type ConductorWorkflow } from "./conductor.js";
import { openChannel, type ClientOptions } from "./connection.js";
import { scheduleState, toRouteView, type RouteGuardView, type RouteView, type RouteWeightView, type ScheduleState } from "./views.js";

/** Items asked per page when a list is read whole (the server's most). */
const PAGE_SIZE = 1000;

export interface StartOptions {
  version?: number;
  correlationId?: string;
  idempotencyKey?: string;
  priority?: number;
}

/** A flow made with @baton/sdk's workflow(): its name, version, and input type. */
export interface DeclaredFlow<I> {
  readonly name: string;
  readonly version: number;
  readonly types?: { input: I; output: unknown };
}

/** The name to start and the options, with a flow's version unless one is given. */
function target(flow: string | DeclaredFlow<unknown>, options: StartOptions): [string, StartOptions] {
  if (typeof flow === "string") return [flow, options];
  return [flow.name, options.version === undefined ? { ...options, version: flow.version } : options];
}

export interface SearchOptions {
  name?: string;
  /** Only runs of this version (needs name). */
  version?: number;
  statuses?: string[];
  correlationId?: string;
  from?: Date | number;
  to?: Date | number;
  pageSize?: number;
  pageToken?: string;
  /** The list's order (newest first when not given); page tokens continue in the order they were issued for. */
  order?: RunOrder;
}

const json = (value: unknown): string => (value === undefined ? "" : stringifyJson(value));
const ms = (value: Date | number | undefined): bigint => BigInt(value === undefined ? 0 : typeof value === "number" ? value : value.getTime());

export class BatonClient {
  readonly address: string;
  readonly channel: grpc.Client;
  readonly metadata: ServiceClient<typeof MetadataService>;
  readonly workflows: ServiceClient<typeof WorkflowService>;
  readonly tasks: ServiceClient<typeof TaskService>;
  readonly events: ServiceClient<typeof EventService>;
  readonly schedules: ServiceClient<typeof ScheduleService>;
  readonly retention: ServiceClient<typeof RetentionService>;
  readonly routes: ServiceClient<typeof RouteService>;

  constructor(options: ClientOptions = {}) {
    const { address, channel, defaults } = openChannel(options);
    this.address = address;
    this.channel = channel;
    this.metadata = createClient(MetadataService, this.channel, defaults);
    this.workflows = createClient(WorkflowService, this.channel, defaults);
    this.tasks = createClient(TaskService, this.channel, defaults);
    this.events = createClient(EventService, this.channel, defaults);
    this.schedules = createClient(ScheduleService, this.channel, defaults);
    this.retention = createClient(RetentionService, this.channel, defaults);
    this.routes = createClient(RouteService, this.channel, defaults);
  }

  close(): void {
    this.channel.close();
  }

  // ---- definitions ------------------------------------------------------------

  /** Registers a WorkflowDef; `nextIfChanged` makes a new version only when the content changed. */
  async registerWorkflowDef(def: object, options: { nextIfChanged?: boolean } = {}) {
    return this.metadata.registerWorkflowDef({
      definitionJson: stringifyJson(def),
      versionPolicy: options.nextIfChanged ? VersionPolicy.NEXT_IF_CHANGED : VersionPolicy.UNSPECIFIED,
    });
  }

  async registerTaskDefs(defs: object[]) {
    return this.metadata.registerTaskDefs({ taskDefJson: defs.map((d) => stringifyJson(d)) });
  }

  async getWorkflowDef(name: string, version?: number): Promise<Record<string, unknown>> {
    const response = await this.metadata.getWorkflowDef({ name, ...(version !== undefined ? { version } : {}) });
    return parseJson(response.definitionJson) as Record<string, unknown>;
  }

  /** Removes one version of a workflow definition; the latest version left (0: none). Runs already started go on. */
  async deleteWorkflowDef(name: string, version: number): Promise<{ latestVersion: number }> {
    const r = await this.metadata.deleteWorkflowDef({ name, version });
    return { latestVersion: r.latestVersion };
  }

  /** Removes a task definition; tasks of that type are scheduled with the defaults from then on. */
  /**
   * Every workflow definition's summary (the latest version of each name, or
   * every version with `allVersions`; only `name`'s when given), by name then
   * version from the newest, read page by page. `withDefinitions` adds each
   * one's JSON (definitionJson).
   */
  async listWorkflowDefs(options: { name?: string; allVersions?: boolean; withDefinitions?: boolean } = {}): Promise<WorkflowDefSummary[]> {
    return everyPage(async (pageToken) => {
      const page = await this.metadata.listWorkflowDefs({
        name: options.name ?? "",
        allVersions: options.allVersions ?? false,
        withDefinitionJson: options.withDefinitions ?? false,
        pageSize: PAGE_SIZE,
        pageToken,
      });
      return { items: page.definitions, nextPageToken: page.nextPageToken };
    });
  }

  /** Every task definition, by name, read page by page. */
  async listTaskDefs(): Promise<Record<string, unknown>[]> {
    const defs = await everyPage(async (pageToken) => {
      const page = await this.metadata.listTaskDefs({ pageSize: PAGE_SIZE, pageToken });
      return { items: page.taskDefJson, nextPageToken: page.nextPageToken };
    });
    return defs.map((text) => parseJson(text) as Record<string, unknown>);
  }

  async deleteTaskDef(name: string): Promise<void> {
    await this.metadata.deleteTaskDef({ name });
  }

  async validateWorkflowDef(def: object) {
    return this.metadata.validateWorkflowDef({ definitionJson: stringifyJson(def) });
  }

  // ---- schedules ------------------------------------------------------------------

  /** Creates a schedule (WorkflowSchedule JSON); refused when the name is taken. */
  async createSchedule(schedule: object): Promise<ScheduleState> {
    return scheduleState((await this.schedules.createSchedule({ scheduleJson: stringifyJson(schedule) })).schedule);
  }

  /** Replaces a schedule by name (with allowMissing, creates it); `changed` is false when it was identical. */
  async updateSchedule(schedule: object, options: { allowMissing?: boolean } = {}): Promise<{ schedule: ScheduleState; changed: boolean; created: boolean }> {
    const r = await this.schedules.updateSchedule({ scheduleJson: stringifyJson(schedule), allowMissing: options.allowMissing ?? false });
    return { schedule: scheduleState(r.schedule), changed: r.changed, created: r.created };
  }

  async getSchedule(name: string): Promise<ScheduleState> {
    return scheduleState((await this.schedules.getSchedule({ name })).schedule);
  }

  /** Every schedule (of one workflow when `workflowName` is given), by name, read page by page. */
  async listSchedules(workflowName = ""): Promise<ScheduleState[]> {
    const schedules = await everyPage(async (pageToken) => {
      const page = await this.schedules.listSchedules({ workflowName, pageSize: PAGE_SIZE, pageToken });
      return { items: page.schedules, nextPageToken: page.nextPageToken };
    });
    return schedules.map(scheduleState);
  }

  async deleteSchedule(name: string): Promise<void> {
    await this.schedules.deleteSchedule({ name });
  }

  async pauseSchedule(name: string): Promise<ScheduleState> {
    return scheduleState((await this.schedules.pauseSchedule({ name })).schedule);
  }

  async resumeSchedule(name: string): Promise<ScheduleState> {
    return scheduleState((await this.schedules.resumeSchedule({ name })).schedule);
  }

  /** Starts one run of the schedule now. */
  async triggerSchedule(name: string): Promise<{ runId: string; fireTime: number }> {
    const r = await this.schedules.triggerSchedule({ name });
    return { runId: r.runId, fireTime: Number(r.fireTimeMs) };
  }

  /** Starts a run for each fire time in [from, to) that has none. */
  async backfillSchedule(name: string, from: Date | number, to: Date | number): Promise<{ runIds: string[]; existing: number }> {
    const r = await this.schedules.backfillSchedule({ name, fromTimeMs: ms(from), toTimeMs: ms(to) });
    return { runIds: r.runIds, existing: r.existing };
  }

  /** The next fire times of a stored schedule (by name) or of a schedule object (not stored). */
  async previewSchedule(
    schedule: string | object,
    options: { count?: number; from?: Date | number } = {},
  ): Promise<{ fireTimes: number[]; dueTimes: number[] }> {
    const r = await this.schedules.previewSchedule({
      ...(typeof schedule === "string" ? { name: schedule } : { scheduleJson: stringifyJson(schedule) }),
      count: options.count ?? 10,
      fromTimeMs: ms(options.from),
    });
    return { fireTimes: r.fireTimesMs.map(Number), dueTimes: r.dueTimesMs.map(Number) };
  }

  // ---- retention ------------------------------------------------------------------

  /** Removes runs that ended before `before` (only those of `workflow`, when given); dryRun counts them. */
  async purgeRuns(
    before: Date | number,
    options: { workflow?: string; dryRun?: boolean } = {},
  ): Promise<{ runs: number; tasks: number; oldestEndedTime: number }> {
    const r = await this.retention.purgeRuns({ beforeTimeMs: ms(before), workflowName: options.workflow ?? "", dryRun: options.dryRun ?? false });
    return { runs: Number(r.runs), tasks: Number(r.tasks), oldestEndedTime: Number(r.oldestEndedTimeMs) };
  }

  // ---- event handlers and events ------------------------------------------------

  /** Creates or replaces (by name) a Conductor EventHandler; invalid JSON is refused with every error's JSON path. */
  async registerEventHandler(handler: object): Promise<{ name: string; changed: boolean; warnings: { path: string; message: string }[] }> {
    const response = await this.events.registerEventHandler({ handlerJson: stringifyJson(handler) });
    return { name: response.name, changed: response.changed, warnings: response.warnings.map((w) => ({ path: w.path, message: w.message })) };
  }

  async getEventHandler(name: string): Promise<Record<string, unknown>> {
    const response = await this.events.getEventHandler({ name });
    return parseJson(response.handlerJson) as Record<string, unknown>;
  }

  /** Every handler by name; only those listening to `event`, or only active ones, when asked. */
  async listEventHandlers(options: { event?: string; activeOnly?: boolean } = {}): Promise<Record<string, unknown>[]> {
    const handlers = await everyPage(async (pageToken) => {
      const page = await this.events.listEventHandlers({ event: options.event ?? "", activeOnly: options.activeOnly ?? false, pageSize: PAGE_SIZE, pageToken });
      return { items: page.handlerJson, nextPageToken: page.nextPageToken };
    });
    return handlers.map((text) => parseJson(text) as Record<string, unknown>);
  }

  async deleteEventHandler(name: string): Promise<void> {
    await this.events.deleteEventHandler({ name });
  }

  /** Puts an event on the bus; the handlers listening to `event` run after this returns. */
  async publishEvent(event: string, payload: object = {}): Promise<{ eventId: number; activeHandlers: number }> {
    const response = await this.events.publishEvent({ event, payloadJson: stringifyJson(payload) });
    return { eventId: Number(response.eventId), activeHandlers: response.activeHandlers };
  }

  // ---- runs -------------------------------------------------------------------

  /**
   * Starts a run; returns its id. Given a Flow from @baton/sdk, the input is
   * typed by the flow's declaration and the run uses the flow's version.
   */
  async startWorkflow<I>(flow: DeclaredFlow<I>, input: I, options?: StartOptions): Promise<string>;
  async startWorkflow(name: string, input?: object, options?: StartOptions): Promise<string>;
  async startWorkflow(flow: string | DeclaredFlow<unknown>, input: unknown = {}, options: StartOptions = {}): Promise<string> {
    const [name, start] = target(flow, options);
    const response = await this.workflows.startWorkflow({ name, inputJson: json(input), ...startFields(start) });
    return response.workflowId;
  }

  /** Starts a run and waits up to `waitMs` for it to end (typed by a Flow, as startWorkflow). */
  async executeWorkflow<I>(flow: DeclaredFlow<I>, input: I, options?: StartOptions & { waitMs?: number }): Promise<ConductorWorkflow>;
  async executeWorkflow(name: string, input?: object, options?: StartOptions & { waitMs?: number }): Promise<ConductorWorkflow>;
  async executeWorkflow(
    flow: string | DeclaredFlow<unknown>,
    input: unknown = {},
    options: StartOptions & { waitMs?: number } = {},
  ): Promise<ConductorWorkflow> {
    const waitMs = options.waitMs ?? 30_000;
    const [name, start] = target(flow, options);
    const response = await this.workflows.executeWorkflow(
      { start: { name, inputJson: json(input), ...startFields(start) }, waitMs: BigInt(waitMs) },
      { deadline: waitMs + 10_000 },
    );
    return toConductorWorkflow(response.workflow!);
  }

  /** Waits up to `waitMs` for a run to end; returns it as it is then. */
  async waitWorkflow(workflowId: string, waitMs = 30_000, includeTasks = true): Promise<ConductorWorkflow> {
    const response = await this.workflows.waitWorkflow({ workflowId, waitMs: BigInt(waitMs), includeTasks }, { deadline: waitMs + 10_000 });
    return toConductorWorkflow(response.workflow!);
  }

  async getWorkflow(workflowId: string, options: { includeTasks?: boolean } = {}): Promise<ConductorWorkflow> {
    const response = await this.workflows.getWorkflow({ workflowId, includeTasks: options.includeTasks ?? true });
    return toConductorWorkflow(response.workflow!);
  }

  async searchWorkflows(options: SearchOptions = {}): Promise<{ workflows: ConductorWorkflow[]; nextPageToken: string }> {
    const response = await this.workflows.searchWorkflows({
      name: options.name ?? "",
      statuses: (options.statuses ?? []).map((s) => {
        const value = WorkflowStatus[s as keyof typeof WorkflowStatus];
        if (value === undefined) throw new Error(`unknown status ${s}`);
        return value;
      }),
      correlationId: options.correlationId ?? "",
      ...(options.version !== undefined ? { version: options.version } : {}),
      startTimeFromMs: ms(options.from),
      startTimeToMs: ms(options.to),
      pageSize: options.pageSize ?? 100,
      pageToken: options.pageToken ?? "",
      order: options.order ?? RunOrder.UNSPECIFIED,
    });
    return { workflows: response.workflows.map(toConductorWorkflow), nextPageToken: response.nextPageToken };
  }

  async pauseWorkflow(workflowId: string): Promise<void> {
    await this.workflows.pauseWorkflow({ workflowId });
  }

  async resumeWorkflow(workflowId: string): Promise<void> {
    await this.workflows.resumeWorkflow({ workflowId });
  }

  async terminateWorkflow(workflowId: string, reason = ""): Promise<void> {
    await this.workflows.terminateWorkflow({ workflowId, reason });
  }

  async retryWorkflow(workflowId: string, options: { resumeSubworkflowTasks?: boolean } = {}): Promise<void> {
    await this.workflows.retryWorkflow({ workflowId, resumeSubworkflowTasks: options.resumeSubworkflowTasks ?? false });
  }

  async restartWorkflow(workflowId: string, options: { useLatestDefinition?: boolean } = {}): Promise<void> {
    await this.workflows.restartWorkflow({ workflowId, useLatestDefinition: options.useLatestDefinition ?? false });
  }

  async rerunWorkflow(
    workflowId: string,
    from: { taskReferenceName?: string; taskId?: string },
    options: { taskInput?: object; workflowInput?: object } = {},
  ): Promise<void> {
    await this.workflows.rerunWorkflow({
      workflowId,
      taskReferenceName: from.taskReferenceName ?? "",
      taskId: from.taskId ?? "",
      taskInputJson: json(options.taskInput),
      workflowInputJson: json(options.workflowInput),
    });
  }

  async skipTask(workflowId: string, taskReferenceName: string, output: object = {}): Promise<void> {
    await this.workflows.skipTask({ workflowId, taskReferenceName, outputJson: json(output) });
  }

  /** Completes (or fails) a task waiting for the outside: WAIT, HUMAN, ... */
  async signalTask(
    workflowId: string,
    task: { taskReferenceName?: string; taskId?: string },
    options: { status?: "COMPLETED" | "FAILED" | "FAILED_WITH_TERMINAL_ERROR"; output?: object; reason?: string } = {},
  ): Promise<string> {
    const response = await this.workflows.signalTask({
      workflowId,
      taskReferenceName: task.taskReferenceName ?? "",
      taskId: task.taskId ?? "",
      status: TaskStatus[options.status ?? "COMPLETED"],
      outputJson: json(options.output),
      reason: options.reason ?? "",
    });
    return response.taskId;
  }

  /** Workers connected to the server now (dispatch streams and long polls), optionally only those serving `taskType`. */
  async workers(taskType = "") {
    const workers = await everyPage(async (pageToken) => {
      const page = await this.tasks.listWorkers({ taskType, pageSize: PAGE_SIZE, pageToken });
      return { items: page.workers, nextPageToken: page.nextPageToken };
    });
    return workers.map((w) => ({
      workerId: w.workerId,
      taskTypes: w.taskTypes,
      kind: w.kind,
      freeSlots: Number(w.freeSlots),
      connectedAt: Number(w.connectedAtMs),
      lastSeen: Number(w.lastSeenMs),
      tasksDelivered: Number(w.tasksDelivered),
    }));
  }

  // ---- routes -------------------------------------------------------------

  /** The route of a workflow name, or undefined when it has none (starts get the latest version). */
  async getRoute(workflowName: string): Promise<RouteView | undefined> {
    try {
      return toRouteView((await this.routes.getRoute({ workflowName })).route!);
    } catch (error) {
      if ((error as { code?: number }).code === grpc.status.NOT_FOUND) return undefined;
      throw error;
    }
  }

  /** Replaces a route: weights in percent summing to 100, optionally sticky by a `${...}` key and guarded. */
  async setRoute(
    workflowName: string,
    route: { weights: RouteWeightView[]; sticky?: string; guard?: RouteGuardView; expectedRevision?: number; note?: string },
  ): Promise<{ route: RouteView; changed: boolean }> {
    const response = await this.routes.setRoute({
      workflowName,
      weights: route.weights,
      sticky: route.sticky ?? "",
      ...(route.guard ? { guard: route.guard } : {}),
      expectedRevision: BigInt(route.expectedRevision ?? 0),
      note: route.note ?? "",
    });
    return { route: toRouteView(response.route!), changed: response.changed };
  }

  async promoteRoute(workflowName: string, version: number, note = ""): Promise<RouteView> {
    return toRouteView((await this.routes.promoteRoute({ workflowName, version, note })).route!);
  }

  async rollbackRoute(workflowName: string, note = ""): Promise<RouteView> {
    return toRouteView((await this.routes.rollbackRoute({ workflowName, note })).route!);
  }

  async deleteRoute(workflowName: string): Promise<void> {
    await this.routes.deleteRoute({ workflowName });
  }

  async routeHistory(workflowName: string, limit = 50) {
    const { changes } = await this.routes.listRouteHistory({ workflowName, limit });
    return changes.map((c) => ({
      revision: Number(c.revision),
      time: Number(c.timeMs),
      action: c.action,
      actor: c.actor,
      note: c.note,
      weights: c.weights.map((w) => ({ version: w.version, weight: w.weight })),
      sticky: c.sticky,
    }));
  }

  /** Health per version over the last `windowSeconds` (default an hour). */
  async routeStatus(workflowName: string, windowSeconds = 0) {
    const response = await this.routes.getRouteStatus({ workflowName, windowSeconds });
    return {
      route: response.route ? toRouteView(response.route) : undefined,
      windowStart: Number(response.windowStartMs),
      versions: response.versions.map((v) => ({
        version: v.version,
        weight: v.weight,
        started: Number(v.started),
        running: Number(v.running),
        completed: Number(v.completed),
        failed: Number(v.failed),
        timedOut: Number(v.timedOut),
        terminated: Number(v.terminated),
        failureRate: v.failureRate,
        durationP50Ms: v.durationP50Ms,
        durationP99Ms: v.durationP99Ms,
      })),
    };
  }

  /** Queue depths per task type (every type with tasks queued or in progress, or only `taskTypes`), in task type order. */
  async queues(taskTypes: string[] = []) {
    const queues = await everyPageOfNames(taskTypes, PAGE_SIZE, async (some, pageToken) => {
      const page = await this.tasks.listQueues({ taskTypes: some, pageSize: PAGE_SIZE, pageToken });
      return { items: page.queues, nextPageToken: page.nextPageToken };
    });
    return queues.map((q) => ({
      taskType: q.taskType,
      ready: Number(q.ready),
      delayed: Number(q.delayed),
      inProgress: Number(q.inProgress),
    }));
  }
}

function startFields(options: StartOptions) {
  return {
    ...(options.version !== undefined ? { version: options.version } : {}),
    correlationId: options.correlationId ?? "",
    idempotencyKey: options.idempotencyKey ?? "",
    priority: options.priority ?? 0,
  };
}
