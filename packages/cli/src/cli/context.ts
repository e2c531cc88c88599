// What every command gets: the global options, the output, and a client made
// on first use (commands that never talk to a server never open a channel).
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { BatonClient, DEFAULT_ADDRESS } from "@baton/client";
import { MAX_DEFINITION_DEPTH, nestingDepth } from "@baton/sdk";
import { describeError, usage } from "./exit.js";
import { resolveToken } from "./secrets.js";
import { Output, type OutputMode } from "./output.js";

export interface GlobalOptions {
  output: OutputMode;
  address?: string;
  token?: string;
  tokenFile?: string;
  verbose?: boolean;
}

export class Context {
  readonly out: Output;
  /** --verbose or BATON_LOG_LEVEL=debug: stack traces and the server's own logs. */
  readonly verbose: boolean;
  readonly address: string;
  private readonly token: string | undefined;
  private client: BatonClient | undefined;

  constructor(options: GlobalOptions) {
    this.out = new Output(options.output);
    this.address = options.address || process.env["BATON_ADDRESS"] || DEFAULT_ADDRESS;
    this.token = resolveToken(options);
    this.verbose = options.verbose === true || process.env["BATON_LOG_LEVEL"] === "debug" || Boolean(process.env["BATON_DEBUG"]);
  }

  /** The command's own global flags win over the ones given before it. */
  static of(command: Command): Context {
    let output: OutputMode | undefined;
    let address: string | undefined;
    let token: string | undefined;
    let tokenFile: string | undefined;
    let verbose = false;
    for (let c: Command | null = command; c; c = c.parent) {
      const o = c.opts<{ output?: unknown; format?: OutputMode; address?: string; token?: string; tokenFile?: string; verbose?: boolean }>();
      verbose ||= o.verbose === true;
      // On signal/skip, --output is the task's output and the format is --format.
      output ??= o.format ?? (o.output === "text" || o.output === "json" ? o.output : undefined);
      address ??= o.address;
      // The nearest of --token and --token-file wins.
      if (token === undefined && tokenFile === undefined) {
        token = o.token;
        tokenFile = o.tokenFile;
      }
    }
    return new Context({
      output: output ?? "text",
      verbose,
      ...(address !== undefined ? { address } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(tokenFile !== undefined ? { tokenFile } : {}),
    });
  }

  get baton(): BatonClient {
    this.client ??= new BatonClient({ address: this.address, ...(this.token ? { token: this.token } : {}) });
    return this.client;
  }

  /** Runs a server call; its error becomes a message a user can act on. */
  async call<T>(fn: (client: BatonClient) => Promise<T>): Promise<T> {
    try {
      return await fn(this.baton);
    } catch (error) {
      throw describeError(error, this.address);
    }
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }
}

/** A JSON argument given inline, as @file, or as @- (stdin). */
export function jsonArg(flag: string, text: string): unknown {
  let source = text;
  if (text.startsWith("@")) {
    const file = text.slice(1);
    try {
      source = readFileSync(file === "-" ? 0 : file, "utf8");
    } catch (error) {
      throw usage(`${flag}: cannot read ${file === "-" ? "stdin" : file}: ${(error as Error).message}`);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    throw usage(`${flag} is not valid JSON: ${(error as Error).message}`);
  }
  // The server would refuse it; deep enough, writing it out for the call overflowed the stack first.
  if (nestingDepth(value, MAX_DEFINITION_DEPTH) > MAX_DEFINITION_DEPTH) {
    throw usage(`${flag} nests deeper than ${MAX_DEFINITION_DEPTH} levels, the most a payload may`);
  }
  return value;
}

/** A JSON object argument (run input, task output, ...). */
export function jsonObjectArg(flag: string, text: string): Record<string, unknown> {
  const value = jsonArg(flag, text);
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw usage(`${flag} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** A commander argument parser for whole numbers in [min, max]. */
export function intArg(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw usage(`${name} must be a whole number between ${min} and ${max}, not "${text}"`);
    return n;
  };
}

/** Seconds, possibly fractional, >= 0. */
export function secondsArg(name: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0) throw usage(`${name} must be a number of seconds, not "${text}"`);
    return n;
  };
}
