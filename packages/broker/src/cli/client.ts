/**
 * What every admin command shares: the `--bootstrap`, `--timeout-ms` and `--json` options, one client
 * session per invocation, and turning client failures into one line.
 */

import { readFile } from 'node:fs/promises';
import type { KbrokerConfig } from '@kbroker/client';
import { type Command, Option } from 'commander';
import { NODE_DEFAULTS } from '../node/config.js';
import { type CliContext, CliError, type ClientSession, type ConnectFn, UsageError } from './context.js';
import { toJson } from './format.js';
import { intArg, serversArg } from './options.js';

export const DEFAULT_BOOTSTRAP = NODE_DEFAULTS.listener;

export interface ClientFlags {
  bootstrap: string[];
  bootstrapServer?: string[];
  timeoutMs: number;
  json?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  user?: string;
  passwordFile?: string;
}

/** Adds `--bootstrap` (alias `--bootstrap-server`, hidden), `--timeout-ms` and `--json`. */
export function withClientOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--bootstrap <host:port,...>', 'servers to connect to')
        .argParser(serversArg)
        .default([DEFAULT_BOOTSTRAP], DEFAULT_BOOTSTRAP),
    )
    .addOption(new Option('--bootstrap-server <host:port,...>').argParser(serversArg).hideHelp())
    .addOption(
      new Option('--timeout-ms <ms>', 'per-request timeout')
        .argParser(intArg('--timeout-ms', 1))
        .default(30_000),
    )
    .option('--json', 'print JSON (for scripts) instead of tables')
    .option('--tls-ca <file>', 'connect over TLS, trusting this PEM CA')
    .option('--tls-cert <file>', 'client certificate (PEM), for listeners that require one')
    .option('--tls-key <file>', 'key of --tls-cert (PEM)')
    .option('--user <name>', 'authenticate as this user (SCRAM-SHA-256)')
    .option(
      '--password-file <file>',
      "file holding --user's password (first line); default the KBROKER_PASSWORD environment variable",
    );
}

async function readFlagFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(
      `cannot read the ${what} ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`,
    );
  }
}

/** The TLS and SASL part of the client config, from the flags. */
async function securityConfig(flags: ClientFlags): Promise<Pick<KbrokerConfig, 'tls' | 'sasl'>> {
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined))
    throw new UsageError('--tls-cert and --tls-key go together');
  const out: { tls?: KbrokerConfig['tls']; sasl?: KbrokerConfig['sasl'] } = {};
  if (flags.tlsCa !== undefined || flags.tlsCert !== undefined) {
    out.tls = {
      ...(flags.tlsCa === undefined ? {} : { ca: await readFlagFile(flags.tlsCa, 'TLS CA file') }),
      ...(flags.tlsCert === undefined ? {} : { cert: await readFlagFile(flags.tlsCert, 'TLS certificate') }),
      ...(flags.tlsKey === undefined ? {} : { key: await readFlagFile(flags.tlsKey, 'TLS key') }),
    };
  }
  if (flags.user !== undefined) {
    const password =
      flags.passwordFile !== undefined
        ? (await readFlagFile(flags.passwordFile, 'password file')).split(/\r?\n/)[0]!
        : process.env.KBROKER_PASSWORD;
    if (password === undefined) throw new UsageError('--user needs --password-file or KBROKER_PASSWORD');
    out.sasl = { mechanism: 'scram-sha-256', username: flags.user, password };
  } else if (flags.passwordFile !== undefined) {
    throw new UsageError('--password-file goes with --user');
  }
  return out;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.message === '' && err.errors.length > 0)
    return messageOf(err.errors[0]);
  if (err instanceof Error) return err.message || codeOf(err) || err.name;
  return String(err);
}

/** Is this a failure to reach the servers at all (as opposed to an answer from them)? */
function isUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = codeOf(e);
    if (code !== undefined && (NETWORK_CODES.has(code) || /CONNECTION|NO_BROKERS|NOT_REACHABLE/.test(code)))
      return true;
    if (e instanceof AggregateError && e.errors.some(isUnreachable)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * One line for a client failure: `cannot reach ...` when no server answered; `CODE: message` for a
 * server error (a KbrokerError's stable code), the message otherwise.
 */
export function describeClientError(err: unknown, brokers: readonly string[]): CliError {
  if (err instanceof CliError) return err;
  const message = messageOf(err).replace(/\s*\n\s*/g, ' ');
  if (isUnreachable(err)) {
    // The client's own message usually names the servers it tried; otherwise say which they were.
    const named = brokers.some((b) => message.includes(b));
    return new CliError(named ? message : `cannot reach the cluster at ${brokers.join(',')}: ${message}`);
  }
  const code = codeOf(err);
  if (code !== undefined && /^[A-Z][A-Z0-9_]+$/.test(code) && !message.includes(code)) {
    return new CliError(`${code}: ${message}`);
  }
  return new CliError(message);
}

const defaultConnect: ConnectFn = async (config: KbrokerConfig): Promise<ClientSession> => {
  const { Kbroker } = await import('@kbroker/client');
  const client = new Kbroker(config);
  const admin = client.admin();
  try {
    await admin.connect();
  } catch (err) {
    await client.disconnect().catch(() => {});
    throw err;
  }
  // Kbroker.disconnect() closes the admin's connections and the shared ones offsets() uses.
  return { admin, offsets: client.offsets(), close: () => client.disconnect() };
};

/** Runs `fn` with a connected session and closes it; every failure becomes one CliError line. */
export async function withClient<T>(
  ctx: CliContext,
  flags: ClientFlags,
  fn: (session: ClientSession) => Promise<T>,
): Promise<T> {
  const brokers = flags.bootstrapServer ?? flags.bootstrap;
  const connect = ctx.options.connect ?? defaultConnect;
  const security = await securityConfig(flags);
  let session: ClientSession;
  try {
    session = await connect({
      ...security,
      brokers,
      clientId: 'kbroker-cli',
      requestTimeoutMs: flags.timeoutMs,
      connectionTimeoutMs: Math.min(3_000, flags.timeoutMs),
      retry: { retries: 2, initialRetryTimeMs: 100, maxRetryTimeMs: 1_000 },
    });
  } catch (err) {
    throw describeClientError(err, brokers);
  }
  try {
    return await fn(session);
  } catch (err) {
    throw describeClientError(err, brokers);
  } finally {
    await session.close().catch(() => {});
  }
}

/** Prints `value` as JSON when `--json`, else what `human` renders. */
export function emit(ctx: CliContext, flags: { json?: boolean }, value: unknown, human: () => string): void {
  ctx.out(flags.json ? toJson(value) : human());
}
