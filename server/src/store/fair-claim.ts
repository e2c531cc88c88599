// Fair claims: queue rows of runs whose workflow names a fairness key carry
// it (queue.fair_key) and its weight (queue.fair_weight). A task type with
// such rows is claimed across keys in turn: each replica keeps, per type, a
// rotation of the keys waiting (found by a skip scan of an index at most
// every REFRESH_MS, and at once for keys it queues itself), and gives each
// claim's slots to the keys after the rotation's cursor, `weight` slots per
// key per round. One statement then takes each key's share in priority and
// age order (a lateral index scan per key, SKIP LOCKED), and keys that come
// back short are dropped from the rotation until the next refresh finds
// them again. A type with no keyed rows is claimed as before (see queue.ts):
// the unkeyed rows take turns as the key '' only while keyed rows wait, and
// once none do (a refresh finds only '', or every keyed lane ran dry) the
// rotation goes and the rest of the claim, and the claims after it, take the
// plain path, until a keyed row is noted here or the type's probe finds one.
//
// Keys this replica queues are noted once their rows are committed, and a
// claim or refresh drops only keys noted before it began: one that started
// before the commit cannot see the rows, and dropping their key then left
// them waiting for the next refresh (up to REFRESH_MS) behind other keys.
//
// Each lane counts its key's rows waiting: the read's count (up to COUNTED),
// plus rows noted here (queued, or put back: a stream that ended, a task a
// quiet key's took the place of), less rows claimed here. A key counted empty leaves
// the rotation at once, so its next task is a quiet key's again (handed over
// at commit) rather than waiting for a claim to find it short; and a key
// whose few rows fit in the slots a stream keeps for quiet keys may be
// claimed into them (its task found the room taken at commit), while the
// flood's keys never take those slots. A key with a few rows (COUNTED at
// most) is still a quiet key for its next task of at least their highest
// priority (each lane keeps that too): the task may pass them at commit.
import type { Queryable } from "./db.js";

/** How long a type's rotation is trusted before the keys waiting are read again. */
const REFRESH_MS = 250;
/** Keys read per refresh; a type with more is read on from the last one next time. */
const KEY_WINDOW = 256;
/** Rows a read of the keys counts per key at most (a key with more has "many"): enough for any stream's quiet room. */
const COUNTED = 16;
/** How long "this type has no keyed rows" is trusted. */
const UNKEYED_TTL_MS = 2000;

interface Lane {
  key: string;
  weight: number;
  /** The note (FairClaims.notes) that last queued rows of the key here; 0 when only a refresh found it. */
  noted: number;
  /**
   * Rows of the key waiting, as far as this replica can tell: the last read's
   * count (Infinity past COUNTED), plus rows noted here since, less rows
   * claimed here since. Rows claimed elsewhere make it too high, never too
   * low; rows queued elsewhere are counted at the next read.
   */
  queued: number;
  /**
   * The highest priority among those rows, as far as this replica can tell:
   * the last read's, raised by rows noted here since (never lowered by claims).
   */
  top: number;
}

interface Rotation {
  lanes: Lane[];
  /** The lane that gets the next slot, and how many slots it had this round. */
  pos: number;
  used: number;
  refreshedAt: number;
  /** Where the next refresh reads on from (undefined: from the first key). */
  after: string | undefined;
}

/** Which worker slots a task made ready may be handed over at commit to (see FairClaims.handOffRoom). */
export type HandOffRoom = "any" | "quiet" | "none";

/** A claim's share per key. */
export interface Shares {
  keys: string[];
  quotas: number[];
}

export class FairClaims {
  private readonly rotations = new Map<string, Rotation>();
  private readonly unkeyedUntil = new Map<string, number>();
  /** Notes of queued rows so far: what a claim or refresh may have seen when it began. */
  private notes = 0;

  /**
   * This replica committed a row of `taskType` with `key`: a keyed one makes
   * the type fair at once, and the key takes turns from now on. Call it after
   * the commit: a claim that finds the key empty drops it, unless the key was
   * noted after that claim began.
   */
  noteQueued(taskType: string, key: string, weight: number, priority: number): void {
    let rotation = this.rotations.get(taskType);
    if (!rotation) {
      if (key === "") return;
      rotation = newRotation();
      this.rotations.set(taskType, rotation);
      this.unkeyedUntil.delete(taskType);
    }
    const noted = ++this.notes;
    const lane = rotation.lanes.find((l) => l.key === key);
    if (lane) {
      lane.weight = weight;
      lane.noted = noted;
      lane.queued++;
      lane.top = Math.max(lane.top, priority);
    } else rotation.lanes.push({ key, weight, noted, queued: 1, top: priority });
  }

  /** Whether this replica knows of keyed rows of `taskType` waiting. */
  backlogged(taskType: string): boolean {
    const rotation = this.rotations.get(taskType);
    return rotation !== undefined && keyed(rotation);
  }

  /**
   * Where a task of `taskType` and `key`, of `priority`, made ready here may
   * go at commit: with no keyed rows of the type waiting here, to `any`
   * worker slot free; with only other keys' rows waiting, to a slot a stream
   * keeps for `quiet` keys (see dispatch/dispatcher.ts), so a key with
   * nothing queued does not wait behind a flood's turns. A key with rows
   * among them waits its turn in the claim behind them (`none`), unless it
   * has only a few (COUNTED at most), none of a higher priority: then it is
   * a quiet key still, whose task found no room at commit a moment ago, and
   * its next task may pass them. Held back, each of its tasks would wait for
   * its turn in the flood's claims until the last of them was claimed.
   */
  handOffRoom(taskType: string, key: string, priority: number): HandOffRoom {
    const rotation = this.rotations.get(taskType);
    if (!rotation || !keyed(rotation)) return "any";
    const lane = rotation.lanes.find((l) => l.key === key);
    return !lane || (lane.queued <= COUNTED && priority >= lane.top) ? "quiet" : "none";
  }

  /**
   * Whether a key waits whose every queued row is one this replica queued,
   * and no more of them than `room`: such a key may be claimed into the slots
   * a stream keeps for quiet keys (see claim's `quiet`).
   */
  fitsQuietRoom(taskType: string, room: number): boolean {
    return room > 0 && (this.rotations.get(taskType)?.lanes.some((l) => fits(l, room)) ?? false);
  }

  /** The keys claims of `taskType` are dealt to here, in turn order. */
  keys(taskType: string): string[] {
    return (this.rotations.get(taskType)?.lanes ?? []).map((l) => l.key);
  }

  /** Whether `taskType` has keyed rows waiting (its rotation, or one index probe at most every 2 s per type); `now` is the server's clock. */
  async isKeyed(q: Queryable, taskType: string, now: number): Promise<boolean> {
    if (this.rotations.has(taskType)) return true;
    if ((this.unkeyedUntil.get(taskType) ?? 0) > now) return false;
    const { rows } = await q.query({
      name: "baton-fair-probe",
      text: "SELECT 1 FROM baton.queue WHERE task_type = $1 AND fair_key > '' LIMIT 1",
      values: [taskType],
    });
    if (rows.length === 0) {
      this.unkeyedUntil.set(taskType, now + UNKEYED_TTL_MS);
      return false;
    }
    this.rotations.set(taskType, newRotation());
    return true;
  }

  /**
   * Takes up to `count` rows of a keyed type fairly: `take` claims the given
   * shares (one statement) and returns what it got per key. Keys found
   * empty leave the rotation and their slots go to the others, for a few
   * rounds at most. `now` (the server's clock) dates the rotation's refresh.
   * `plain` is set once no keyed rows wait but unkeyed ones may: the type is
   * off the fair path, and the caller claims the rest of `count` plainly.
   * `quiet` of the `count` slots are ones a stream keeps for quiet keys: only
   * keys that fit in them (fitsQuietRoom) may take those; the others share
   * the rest.
   */
  async claim<T>(
    q: Queryable,
    taskType: string,
    count: number,
    now: number,
    { room, quiet = 0 }: { room?: ((key: string) => number) | undefined; quiet?: number },
    take: (shares: Shares) => Promise<{ rows: T[]; perKey: Map<string, number> }>,
  ): Promise<{ rows: T[]; plain: boolean }> {
    const rotation = this.rotations.get(taskType);
    const got: T[] = [];
    if (!rotation) return { rows: got, plain: true };
    // What earlier rounds of this claim took counts against a key's room.
    const taken = new Map<string, number>();
    // Keys this claim gives no more slots to: noted since it began, they have rows its statements may not
    // see (committed after its `now`, or while a statement ran).
    const passed = new Set<string>();
    const began = this.notes;
    const left = (key: string) => (passed.has(key) ? 0 : room ? room(key) - (taken.get(key) ?? 0) : Infinity);
    // What the keys that do not fit in the quiet room may still take.
    let others = count - quiet;
    for (let round = 0; round < 4 && got.length < count; round++) {
      if (rotation.lanes.length === 0 || now - rotation.refreshedAt >= REFRESH_MS) {
        await this.refresh(q, taskType, rotation, now);
        if (!keyed(rotation)) return { rows: got, plain: this.leave(taskType, rotation, now) };
      }
      const fitting = new Set(rotation.lanes.filter((l) => fits(l, quiet)).map((l) => l.key));
      const shares = this.share(rotation, count - got.length, left, others, fitting);
      if (shares.keys.length === 0) break;
      const { rows, perKey } = await take(shares);
      got.push(...rows);
      for (const [key, n] of perKey) {
        taken.set(key, (taken.get(key) ?? 0) + n);
        if (!fitting.has(key)) others -= n;
      }
      // A key counted empty goes now, not at the next claim that finds it short (its next task may be handed over at commit meanwhile).
      for (const l of rotation.lanes) l.queued = Math.max(0, l.queued - (perKey.get(l.key) ?? 0));
      this.drop(rotation, new Set(rotation.lanes.filter((l) => l.queued === 0).map((l) => l.key)), Infinity);
      const short = new Set(shares.keys.filter((key, i) => (perKey.get(key) ?? 0) < shares.quotas[i]!));
      if (short.size === 0 && keyed(rotation)) break;
      for (const l of rotation.lanes) if (short.has(l.key) && l.noted > began) passed.add(l.key);
      this.drop(rotation, short, began);
      // Every keyed lane ran dry; unkeyed rows still there (their lane was not short) are claimed plainly.
      if (!keyed(rotation)) return { rows: got, plain: this.leave(taskType, rotation, now) };
    }
    return { rows: got, plain: false };
  }

  /**
   * No keyed rows wait that this replica knows of: the type leaves the fair
   * path. Keys queued here bring it back at once; those queued elsewhere are
   * looked for again after REFRESH_MS, as the rotation's next read would
   * have. Returns whether unkeyed rows may still wait.
   */
  private leave(taskType: string, rotation: Rotation, now: number): boolean {
    this.rotations.delete(taskType);
    this.unkeyedUntil.set(taskType, now + REFRESH_MS);
    return rotation.lanes.length > 0;
  }

  /**
   * Deals `count` slots from the rotation's cursor on, `weight` consecutive
   * slots per key per round, none to a key past its `room` (a per-key limit
   * of tasks in progress), and no more than `others` in all to keys not in
   * `fitting` (the rest is the room kept for quiet keys).
   */
  private share(rotation: Rotation, count: number, room: (key: string) => number, others: number, fitting: Set<string>): Shares {
    const quotas = new Map<string, number>();
    let othersLeft = Math.max(0, others);
    let roomFitting = 0;
    let roomOthers = 0;
    for (const l of rotation.lanes) {
      if (fitting.has(l.key)) roomFitting += room(l.key);
      else roomOthers += room(l.key);
    }
    for (let left = Math.min(count, roomFitting + Math.min(othersLeft, roomOthers)); left > 0;) {
      const lane = rotation.lanes[rotation.pos % rotation.lanes.length]!;
      const fits = fitting.has(lane.key);
      const free = Math.min(room(lane.key) - (quotas.get(lane.key) ?? 0), fits ? Infinity : othersLeft);
      const give = Math.min(lane.weight - rotation.used, left, free);
      if (give <= 0) {
        rotation.pos = (rotation.pos + 1) % rotation.lanes.length;
        rotation.used = 0;
        continue;
      }
      quotas.set(lane.key, (quotas.get(lane.key) ?? 0) + give);
      left -= give;
      if (!fits) othersLeft -= give;
      rotation.used += give;
      if (rotation.used >= lane.weight) {
        rotation.pos = (rotation.pos + 1) % rotation.lanes.length;
        rotation.used = 0;
      }
    }
    return { keys: [...quotas.keys()], quotas: [...quotas.values()] };
  }

  /** Drops the lanes of `keys` that were not noted after `seen` (Infinity: all of them). */
  private drop(rotation: Rotation, keys: Set<string>, seen: number): void {
    const current = rotation.lanes[rotation.pos % Math.max(1, rotation.lanes.length)];
    rotation.lanes = rotation.lanes.filter((l) => !keys.has(l.key) || l.noted > seen);
    const at = current ? rotation.lanes.indexOf(current) : -1;
    rotation.pos = at >= 0 ? at : 0;
    if (at < 0) rotation.used = 0;
  }

  /** Reads the keys waiting (a skip scan: one index probe per key), keeping the cursor on the key it was at. */
  private async refresh(q: Queryable, taskType: string, rotation: Rotation, now: number): Promise<void> {
    // From the first key (the unkeyed rows' '' included), or on after the last window's last key.
    const from = rotation.after === undefined ? "fair_key >= ''" : "fair_key > $2";
    const seen = this.notes;
    // Rows noted while the scan runs are added to its counts (the scan may or may not see them: too high, never too low).
    const before = new Map(rotation.lanes.map((l) => [l.key, l.queued]));
    const { rows } = await q.query({
      name: rotation.after === undefined ? "baton-fair-keys" : "baton-fair-keys-after",
      text: `WITH RECURSIVE k AS (
          (SELECT fair_key, fair_weight FROM baton.queue WHERE task_type = $1 AND ${from} ORDER BY fair_key LIMIT 1)
          UNION ALL
          SELECT n.fair_key, n.fair_weight FROM k CROSS JOIN LATERAL (
            SELECT q.fair_key, q.fair_weight FROM baton.queue q WHERE q.task_type = $1 AND q.fair_key > k.fair_key ORDER BY q.fair_key LIMIT 1) n)
        SELECT fair_key, fair_weight,
          (SELECT count(*) FROM (SELECT 1 FROM baton.queue c WHERE c.task_type = $1 AND c.fair_key = k.fair_key LIMIT ${COUNTED + 1}) n)::int AS queued,
          (SELECT c.priority FROM baton.queue c WHERE c.task_type = $1 AND c.fair_key = k.fair_key ORDER BY c.priority DESC LIMIT 1) AS top
        FROM k LIMIT ${KEY_WINDOW}`,
      values: rotation.after === undefined ? [taskType] : [taskType, rotation.after],
    });
    if (rows.length === 0 && rotation.after !== undefined) {
      // Past the last key: the keys before the window are the ones left.
      rotation.after = undefined;
      return this.refresh(q, taskType, rotation, now);
    }
    const current = rotation.lanes[rotation.pos % Math.max(1, rotation.lanes.length)]?.key;
    const counted = new Map(rotation.lanes.map((l) => [l.key, l.queued]));
    const tops = new Map(rotation.lanes.map((l) => [l.key, l.top]));
    const lanes: Lane[] = rows.map((r) => {
      const key = r.fair_key as string;
      const was = before.get(key) ?? 0;
      const since = Number.isFinite(was) ? (counted.get(key) ?? was) - was : 0;
      // Rows noted here while the scan ran may be missing from its top too.
      const top = Math.max(Number(r.top ?? 0), since > 0 ? (tops.get(key) ?? 0) : -Infinity);
      return { key, weight: Math.max(1, Number(r.fair_weight)), noted: 0, queued: (r.queued > COUNTED ? Infinity : Number(r.queued)) + since, top };
    });
    // A full window reads on from its last key next time; one that was not starts over.
    rotation.after = lanes.length >= KEY_WINDOW ? lanes[lanes.length - 1]!.key : undefined;
    // Keys noted while the scan ran keep their turn (the scan may not have seen their rows), in key order.
    const found = new Map(lanes.map((l) => [l.key, l]));
    for (const l of rotation.lanes) {
      if (l.noted <= seen) continue;
      const same = found.get(l.key);
      if (same) same.noted = l.noted;
      else lanes.push({ ...l });
    }
    lanes.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    rotation.lanes = lanes;
    const at = current === undefined ? -1 : lanes.findIndex((l) => l.key >= current);
    if (at < 0 || lanes[at]!.key !== current) rotation.used = 0;
    rotation.pos = at >= 0 ? at : 0;
    rotation.refreshedAt = now;
  }
}

function newRotation(): Rotation {
  return { lanes: [], pos: 0, used: 0, refreshedAt: 0, after: undefined };
}

/** Whether all a lane's rows fit in `room`. */
function fits(lane: Lane, room: number): boolean {
  return room > 0 && lane.queued <= room;
}

/** Whether keyed rows wait in the rotation (not only the unkeyed ones, as the key ''). */
function keyed(rotation: Rotation): boolean {
  return rotation.lanes.some((l) => l.key !== "");
}

export const FAIR_CLAIM_MIGRATION = {
  name: "queue rows carry their run's fairness key",
  sql: `
    -- '' for runs of workflows that name no fairnessKey. The index serves
    -- fair claims: a skip scan over the keys of a type, then each key's rows
    -- (the unkeyed ones too, as the key ''), in claim order.
    ALTER TABLE baton.queue ADD COLUMN fair_key text NOT NULL DEFAULT '';
    CREATE INDEX queue_fair ON baton.queue (task_type, fair_key, priority DESC, visible_at, seq);
  `,
};

export const FAIR_WEIGHT_MIGRATION = {
  name: "queue rows carry their fairness key's weight",
  sql: `
    -- Slots per round of the key in fair claims (the workflow's fairnessWeights; 1 unless set).
    ALTER TABLE baton.queue ADD COLUMN fair_weight int NOT NULL DEFAULT 1;
  `,
};
