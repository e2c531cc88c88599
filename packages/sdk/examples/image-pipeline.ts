// Example: ingest an image, encode it once per requested format in parallel,
// publish the renditions to a CDN, and notify. The task types are typed stubs:
// `encode` is done by a Go worker, `publish_cdn` by a Java worker, `notify` and
// `ingest` by TypeScript workers. (In your project, import from "@baton/sdk".)
import { taskType, workflow } from "../src/index.js";

export interface Rendition {
  url: string;
  format: string;
  bytes: number;
}

export const ingest = taskType<{ src: string }, { url: string; width: number; height: number }>("ingest", {
  description: "Fetch the source image into storage (TypeScript worker)",
  retryCount: 3,
  timeoutSeconds: 300,
  responseTimeoutSeconds: 60,
});

export const encode = taskType<{ src: string; format: string }, Rendition>("encode", {
  description: "Encode one rendition (Go worker)",
  retryCount: 3,
  retryLogic: "EXPONENTIAL_BACKOFF",
  retryDelaySeconds: 5,
  timeoutSeconds: 600,
  responseTimeoutSeconds: 120,
});

export const publishCdn = taskType<{ renditions: Record<string, Rendition> }, { urls: string[] }>("publish_cdn", {
  description: "Upload renditions to the CDN and purge caches (Java worker)",
  retryCount: 5,
  timeoutSeconds: 900,
  responseTimeoutSeconds: 300,
});

export const notify = taskType<{ channel: string; message: string; urls: string[] }, { delivered: boolean }>("notify", {
  description: "Tell the requester the renditions are live (TypeScript worker)",
  retryCount: 2,
  timeoutSeconds: 60,
  responseTimeoutSeconds: 30,
});

export const imagePipeline = workflow("image_pipeline", {
  description: "Ingest, encode per format, publish to the CDN, notify",
  version: 1,
  timeoutSeconds: 3600,
  timeoutPolicy: "TIME_OUT_WF",
  ownerEmail: "media@example.com",
})
  .input<{ src: string; formats: string[]; channel: string }>("src", "formats", "channel")
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

    notify.step("notify", {
      channel: wf.input.channel,
      message: `renditions of ${wf.input.src} are live`,
      urls: published.output.urls,
    });

    return { urls: published.output.urls, width: image.output.width };
  });
