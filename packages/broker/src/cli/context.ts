/**
 * What every command runs with: where its output goes, and the pieces a test may replace (the node
 * runtime, the client, the signal source). Also the CLI's error classes and exit codes.
 */
import type { Admin, KbrokerConfig, Offsets } from '@kbroker/client';
import type { Logger } from 'pino';
import type { NodeConfig } from '../node/config.js';

export const EXIT_OK = 0;
/** A command ran and failed: a server error, an unreachable cluster, a data dir of another node. */
export const EXIT_FAILURE = 1;
/** The command line itself is wrong: unknown option, missing or invalid value. */
export const EXIT_USAGE = 2;

/** Where output goes; `process.stdout`/`process.stderr` satisfy it, and so does a test's buffer. */
export interface Writer {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

/** What a started node offers the CLI (the shape `startNode` in `node/node.ts` resolves to). */
export interface NodeHandle {
  readonly nodeId: number;
  clientAddress(): string;
  quorumAddress(): string | undefined;
  httpAddress(): string | undefined;
  /** Controlled shutdown. */
  stop(): Promise<void>;
  kill(): Promise<void>;
}

export type StartNodeFn = (config: NodeConfig, options?: { logger?: Logger }) => Promise<NodeHandle>;
export type CreateLoggerFn = (level: string, nodeId: number, roles: readonly string[]) => Logger;

/** One connection to a cluster, as the admin commands use it. */
export interface ClientSession {
  readonly admin: Admin;
  readonly offsets: Offsets;
  close(): Promise<void>;
}
export type ConnectFn = (config: KbrokerConfig) => Promise<ClientSession>;

/** Where signals come from: `process` unless a test supplies its own emitter. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface MainOptions {
  readonly stdout?: Writer;
  readonly stderr?: Writer;
  /** Input of the interactive metadata shell. */
  readonly stdin?: NodeJS.ReadableStream;
  readonly signals?: SignalSource;
  /** Replaces `startNode` from `node/node.ts` (tests). */
  readonly startNode?: StartNodeFn;
  /** Replaces `createLogger` from `node/logger.ts` (tests). */
  readonly createLogger?: CreateLoggerFn;
  /** Replaces the `@kbroker/client` connection of the admin commands (tests). */
  readonly connect?: ConnectFn;
  /** The working directory relative paths are reported against; default `process.cwd()`. */
  readonly cwd?: string;
}

export interface CliContext {
  readonly stdout: Writer;
  readonly stderr: Writer;
  readonly stdin: NodeJS.ReadableStream;
  readonly signals: SignalSource;
  readonly options: MainOptions;
  /** Set by a command that finished without throwing but still failed (e.g. partial results). */
  exitCode: number;
  /** Writes `text` and a newline to stdout. */
  out(text?: string): void;
  /** Writes `text` and a newline to stderr. */
  err(text: string): void;
}

export function createContext(options: MainOptions): CliContext {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  return {
    stdout,
    stderr,
    stdin: options.stdin ?? process.stdin,
    signals: options.signals ?? process,
    options,
    exitCode: EXIT_OK,
    out(text = '') {
      stdout.write(`${text}\n`);
    },
    err(text: string) {
      stderr.write(`${text}\n`);
    },
  };
}

/** A failure the CLI reports as one line (`kbroker: <message>`) with its exit code. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
  }
}

/** The command line is wrong (exit 2). */
export class UsageError extends CliError {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}
