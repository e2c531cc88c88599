// Sends task results in batches: while one UpdateTasks call is on the wire,
// the results finished meanwhile wait and go together in the next one. A lone
// result goes at once, so batching costs no latency when the worker is quiet.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { grpc, type TaskResultSchema, type UpdateTasksResponse } from "@baton/protocol";

type Result = MessageInitShape<typeof TaskResultSchema>;

/** A result the server answered with an error of its own (e.g. a stale lease). */
export class ResultRefused extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = "ResultRefused";
  }
}

interface Pending {
  result: Result;
  resolve(applied: boolean): void;
  reject(error: unknown): void;
}

export class ResultSender {
  private pending: Pending[] = [];
  private sending = false;

  constructor(
    private readonly send: (results: Result[]) => Promise<UpdateTasksResponse>,
    private readonly maxBatch = 256,
    /** Outputs beyond this many bytes go in the next call: the server caps the size of a message. */
    private readonly maxBytes = 1024 * 1024,
  ) {}

  /** Resolves with whether the server applied the result; rejects with the call's error or a ResultRefused. */
  report(result: Result): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ result, resolve, reject });
      if (!this.sending) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.sending = true;
    while (this.pending.length > 0) {
      let count = 0;
      let bytes = 0;
      while (count < this.pending.length && count < this.maxBatch) {
        bytes += this.pending[count]!.result.outputJson?.length ?? 0;
        if (count > 0 && bytes > this.maxBytes) break;
        count++;
      }
      const batch = this.pending.splice(0, count);
      try {
        const { outcomes } = await this.send(batch.map((p) => p.result));
        batch.forEach((p, i) => {
          const outcome = outcomes[i];
          if (!outcome) p.reject(new ResultRefused(grpc.status.INTERNAL, "the server sent no outcome for this result"));
          else if (outcome.code !== 0) p.reject(new ResultRefused(outcome.code, outcome.message));
          else p.resolve(outcome.applied);
        });
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    this.sending = false;
  }
}
