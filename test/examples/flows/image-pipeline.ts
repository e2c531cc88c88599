// The image pipeline of packages/sdk/examples/image-pipeline.ts, with an
// embargo: the renditions go live on the CDN at once, but the requester is
// told only after a WAIT (3 days unless the input says otherwise), e.g. so a
// press release and its images are announced together. The task types are the
// same typed stubs; the flow is its own (image_pipeline_embargo), so it can be
// published next to the original.
import { taskType, workflow } from "@baton/sdk";

export interface Rendition {
  url: string;
  format: string;
  bytes: number;
}

export const ingest = taskType<{ src: string }, { url: string; width: number; height: number }>("ingest", {
  description: "Fetch the source image into storage",
  retryCount: 3,
  timeoutSeconds: 300,
  responseTimeoutSeconds: 60,
});

export const encode = taskType<{ src: string; format: string }, Rendition>("encode", {
  description: "Encode one rendition",
  retryCount: 3,
  retryLogic: "EXPONENTIAL_BACKOFF",
  retryDelaySeconds: 5,
  timeoutSeconds: 600,
  responseTimeoutSeconds: 120,
});

export const publishCdn = taskType<{ renditions: Record<string, Rendition> }, { urls: string[] }>("publish_cdn", {
  description: "Upload renditions to the CDN and purge caches",
  retryCount: 5,
  timeoutSeconds: 900,
  responseTimeoutSeconds: 300,
});

export const notify = taskType<{ channel: string; message: string; urls: string[] }, { delivered: boolean }>("notify", {
  description: "Tell the requester the renditions are live",
  retryCount: 2,
  timeoutSeconds: 60,
  responseTimeoutSeconds: 30,
});

export const imagePipeline = workflow("image_pipeline_embargo", {
  description: "Ingest, encode per format, publish to the CDN, wait out the embargo, notify",
  version: 1,
  // Longer than the embargo: a 3-day wait must not time the run out.
  timeoutSeconds: 7 * 24 * 3600,
  timeoutPolicy: "TIME_OUT_WF",
  ownerEmail: "media@example.com",
})
  .input<{ src: string; formats: string[]; channel: string; embargo: string }>("src", "formats", "channel", "embargo")
  .inputTemplate({ embargo: "3 days" })
  .steps((wf) => {
    const image = ingest.step("ingest", { src: wf.input.src });

    // One encode input per requested format, computed by the server.
    const jobs = wf.jq<{ src: string; format: string }[]>({
      ref: "encode_jobs",
      query: "[.formats[] as $f | {src: .src, format: $f}]",
      inputs: { src: image.output.url, formats: wf.input.formats },
    });

    // One `encode` task per job, in parallel; the join's output is keyed by task.
    const encoded = wf.dynamicFork({ ref: "encode_all", task: encode, inputs: jobs.output.result });

    const published = publishCdn.step("publish_cdn", { renditions: encoded.join.output });

    // The embargo: a row with a due time on the server, not a timer in memory.
    wf.wait({ ref: "embargo", duration: wf.input.embargo });

    const told = notify.step("notify", {
      channel: wf.input.channel,
      message: `renditions of ${wf.input.src} are live`,
      urls: published.output.urls,
    });

    return { urls: published.output.urls, width: image.output.width, notified: told.output.delivered };
  });
