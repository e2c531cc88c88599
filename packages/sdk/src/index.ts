// @baton/sdk: Conductor's definition types, their validation, and the typed flow builder.
export * from "./def.js";
export * from "./validate.js";
export * from "./names.js";
export * from "./fork-limit.js";
export * from "./event-handler.js";
export * from "./duration.js";
export * from "./loop-refs.js";
export * from "./builder/index.js";
export * from "./schedule.js";
