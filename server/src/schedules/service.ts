// ScheduleService: schedules in (validated, the workflow checked, stored as
// JSON with their next due time), operator actions on them, and previews.
import { isDeepStrictEqual } from "node:util";
import { create } from "@bufbuild/protobuf";
import { RpcError, ScheduleInfoSchema, ScheduleService, grpc, stringifyJson, type ScheduleInfo, type ServiceImpl } from "@baton/protocol";
import { describeIssues, validateSchedule, type WorkflowSchedule } from "@baton/sdk";
import type { Clock } from "../clock.js";
import type { Limits } from "../limits.js";
import type { ScheduleRow, Store } from "../store/store.js";
import { invalid, LARGE_STEP_BYTES, notFound, parseLargePayload, rpc } from "../service/errors.js";
import { listPage, pageWithinBytes } from "../service/list-pages.js";
import type { JsonObject } from "../decider/model.js";
import type { Queries } from "../sandbox/queries.js";
import { checkRunInput } from "../service/run-input.js";
import { fireTimesBetween, fireTimesOf } from "./fire-times.js";
import { idempotencyKeyOf, type ScheduleFirer } from "./firer.js";

/** Fire times one backfill may start. */
export const MAX_BACKFILL = 10_000;

function info(row: ScheduleRow): ScheduleInfo {
  return create(ScheduleInfoSchema, {
    scheduleJson: stringifyJson(row.body),
    paused: row.paused,
    nextFireTimeMs: BigInt(row.paused ? 0 : row.nextFireAt),
    nextDueTimeMs: BigInt(row.paused || row.nextFireAt === 0 ? 0 : fireTimesOf(row.body).dueAt(row.nextFireAt)),
    lastFireTimeMs: BigInt(row.lastFireAt),
    lastRunId: row.lastRunId,
    bufferedFireTimeMs: BigInt(row.bufferedFireAt),
    skippedFires: BigInt(row.skippedFires),
    createTimeMs: BigInt(row.createdAt),
    updateTimeMs: BigInt(row.updatedAt),
  });
}

/** Where the row of a (re)defined schedule stands: the next fire after now, none while paused. */
function placement(s: WorkflowSchedule, paused: boolean, now: number): { nextFireAt: number; dueAt: number } {
  const times = fireTimesOf(s);
  const next = times.after(now) ?? 0;
  return { nextFireAt: next, dueAt: paused || next === 0 ? 0 : times.dueAt(next) };
}

export function scheduleService(
  store: Pick<Store, "schedule" | "listSchedules" | "insertSchedule" | "changeSchedule" | "deleteSchedule" | "findWorkflowDef" | "runIdByIdempotencyKey">,
  firer: ScheduleFirer,
  clock: Clock,
  limits: Limits,
  queries: Pick<Queries, "checkInput">,
): ServiceImpl<typeof ScheduleService> {
  /**
   * The schedule `json` holds: a large one (its start's input) is read a step per turn of the event loop, in line
   * with other large payloads, not in the turn its request was decoded in.
   */
  const read = (json: string) => parseLargePayload("schedule_json", json, limits.definitionBytes, LARGE_STEP_BYTES);
  /** Parses and validates a schedule, and checks its workflow exists: refused with the field named, nothing stored. */
  const parse = async (json: string): Promise<WorkflowSchedule> => {
    if (json.trim() === "") throw invalid("schedule_json is required");
    const value = await read(json);
    const { errors } = validateSchedule(value);
    if (errors.length > 0) throw invalid(`invalid schedule (${errors.length} error${errors.length > 1 ? "s" : ""}): ${describeIssues(errors)}`);
    const s = value as unknown as WorkflowSchedule;
    const request = s.startWorkflowRequest;
    const found = await store.findWorkflowDef(request.name, request.version);
    if (!found) {
      throw invalid(
        `/startWorkflowRequest/name: no workflow ${JSON.stringify(request.name)}${request.version !== undefined ? ` version ${request.version}` : ""} is registered; register it first (baton publish)`,
      );
    }
    // An input the workflow refuses would have every fire refused, each counted as skipped: refused here instead (as
    // its fires' runs get it, with the scheduled time), against the version the schedule names or the latest.
    const input = { ...(request.input ?? {}), _scheduledTime: 0, _executedTime: 0, _scheduleName: s.name } as JsonObject;
    await checkRunInput(found.def, input, queries).catch((error: unknown) => {
      throw error instanceof RpcError ? invalid(`/startWorkflowRequest/input: ${error.message}`) : error;
    });
    return s;
  };
  const existing = async (name: string): Promise<ScheduleRow> => {
    if (!name) throw invalid("name is required");
    const row = await store.schedule(name);
    if (!row) throw notFound(`no schedule ${JSON.stringify(name)}`);
    return row;
  };
  const insert = async (s: WorkflowSchedule): Promise<ScheduleRow | undefined> => {
    const now = clock.now();
    const paused = s.paused === true;
    const row = { name: s.name, workflowName: s.startWorkflowRequest.name, body: s, paused, ...placement(s, paused, now), createdAt: now, updatedAt: now };
    return (await store.insertSchedule(row)) ? { ...row, bufferedFireAt: 0, lastFireAt: 0, lastRunId: "", skippedFires: 0 } : undefined;
  };
  const setPaused = async (name: string, paused: boolean) => {
    if (!name) throw invalid("name is required");
    const now = clock.now();
    const row = await store.changeSchedule(name, (r) => (r.paused === paused ? undefined : { paused, ...placement(r.body, paused, now) }), now);
    if (!row) throw notFound(`no schedule ${JSON.stringify(name)}`);
    return { schedule: info(row) };
  };

  return {
    createSchedule: rpc(async (req) => {
      const s = await parse(req.scheduleJson);
      const row = await insert(s);
      if (!row) throw new RpcError(grpc.status.ALREADY_EXISTS, `a schedule named ${JSON.stringify(s.name)} exists already; update it instead`);
      return { schedule: info(row) };
    }),

    updateSchedule: rpc(async (req) => {
      const s = await parse(req.scheduleJson);
      const now = clock.now();
      let changed = false;
      const row = await store.changeSchedule(
        s.name,
        (r) => {
          // Equal whatever the key order (jsonb keeps its own), compared in place: a key-sorted copy and text of each side took hundreds of ms at 4 MiB.
          if (isDeepStrictEqual(r.body, s)) return undefined;
          changed = true;
          // `paused` in the JSON applies when the JSON's own value changes; else the operator's pause/resume stands.
          const paused = (r.body.paused === true) !== (s.paused === true) ? s.paused === true : r.paused;
          return { body: s, workflowName: s.startWorkflowRequest.name, paused, ...placement(s, paused, now) };
        },
        now,
      );
      if (row) return { schedule: info(row), changed, created: false };
      if (!req.allowMissing) throw notFound(`no schedule ${JSON.stringify(s.name)}; create it (or update with allow_missing)`);
      const created = await insert(s);
      if (!created) throw new RpcError(grpc.status.ABORTED, `schedule ${JSON.stringify(s.name)} was created meanwhile; retry`);
      return { schedule: info(created), changed: true, created: true };
    }),

    getSchedule: rpc(async (req) => ({ schedule: info(await existing(req.name)) })),

    listSchedules: rpc(async (req) => {
      const page = listPage("schedules", 1, req.pageSize, req.pageToken);
      const shown = await pageWithinBytes(
        "schedules",
        page,
        (after, limit, room) => store.listSchedules(req.workflowName, { limit, ...(after ? { after: after[0] } : {}) }, room),
        (row) => [row.name],
      );
      return { schedules: shown.items.map(info), nextPageToken: shown.nextPageToken };
    }),

    deleteSchedule: rpc(async (req) => {
      if (!req.name) throw invalid("name is required");
      if (!(await store.deleteSchedule(req.name))) throw notFound(`no schedule ${JSON.stringify(req.name)}`);
      return {};
    }),

    pauseSchedule: rpc(async (req) => setPaused(req.name, true)),
    resumeSchedule: rpc(async (req) => setPaused(req.name, false)),

    triggerSchedule: rpc(async (req) => {
      const row = await existing(req.name);
      const now = clock.now();
      // A manual run is keyed by its own instant, apart from the fire times.
      const runId = await firer.startRun(row.body, now, now, `schedule:${row.name}!manual@${now}:${Math.random().toString(36).slice(2)}`);
      if (!runId) throw new RpcError(grpc.status.FAILED_PRECONDITION, `schedule ${row.name}: workflow ${row.workflowName} could not be started`);
      return { runId, fireTimeMs: BigInt(now) };
    }),

    backfillSchedule: rpc(async (req) => {
      const row = await existing(req.name);
      const from = Number(req.fromTimeMs);
      const to = Number(req.toTimeMs);
      if (!(to > from)) throw invalid("to_time_ms must be after from_time_ms");
      const times = await fireTimesBetween(fireTimesOf(row.body), from - 1, to, MAX_BACKFILL + 1);
      if (times.length > MAX_BACKFILL) throw invalid(`the range holds more than ${MAX_BACKFILL} fire times; backfill a shorter range`);
      const now = clock.now();
      const runIds: string[] = [];
      let existingRuns = 0;
      for (const t of times) {
        const key = idempotencyKeyOf(row.name, t);
        if (await store.runIdByIdempotencyKey(key)) {
          existingRuns++;
          continue;
        }
        const runId = await firer.startRun(row.body, t, now, key);
        if (runId) runIds.push(runId);
      }
      return { runIds, existing: existingRuns };
    }),

    previewSchedule: rpc(async (req) => {
      let s: WorkflowSchedule;
      if (req.name) s = (await existing(req.name)).body;
      else if (req.scheduleJson) {
        const value = await read(req.scheduleJson);
        const { errors } = validateSchedule(value);
        if (errors.length > 0) throw invalid(`invalid schedule: ${describeIssues(errors)}`);
        s = value as unknown as WorkflowSchedule;
      } else throw invalid("name or schedule_json is required");
      const count = req.count === 0 ? 10 : req.count;
      if (count < 0 || count > 1000) throw invalid("count must be from 1 to 1000");
      const times = fireTimesOf(s);
      const fires = await fireTimesBetween(times, req.fromTimeMs > 0n ? Number(req.fromTimeMs) : clock.now(), Infinity, count);
      return { fireTimesMs: fires.map(BigInt), dueTimesMs: fires.map((t) => BigInt(times.dueAt(t))) };
    }),
  };
}
