// Structured JSON logs (pino). Secrets never go in: log ids and names, not payloads.
import { pino } from "pino";

export type Logger = pino.Logger;

export function createLogger(level = process.env["BATON_LOG_LEVEL"] ?? "info"): Logger {
  return pino({ level, base: { service: "baton" }, redact: ["authorization", "*.authorization", "token", "*.token"] });
}
