/**
 * The `kbroker` command line: assembles the commands and turns every failure into one line on stderr
 * (`kbroker: <message>`) and an exit code (1: the command failed; 2: the command line is wrong).
 *
 *   kbroker [start]            run a node (the default command)
 *   kbroker format | random-cluster-id
 *   kbroker quorum | topics | configs | cluster | offsets | leaders   (admin, over --bootstrap)
 *   kbroker metadata-shell     browse a snapshot or a live cluster as a tree
 *   kbroker dev                a local multi-process cluster
 *   kbroker migrate | zk-dump  migrate a ZooKeeper-based Kafka cluster's metadata
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../node/config.js';
import { registerCluster } from './cluster.js';
import { registerConfigs } from './configs.js';
import {
  type CliContext,
  CliError,
  createContext,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  type MainOptions,
} from './context.js';
import { registerCredential } from './credential.js';
import { registerDev } from './dev.js';
import { registerLeaders } from './leaders.js';
import { registerMetadataShell } from './metadata-shell.js';
import { registerMigrate } from './migrate.js';
import { registerOffsets } from './offsets.js';
import { registerQuorum } from './quorum.js';
import { registerStart } from './start.js';
import { registerStorage } from './storage.js';
import { registerTopics } from './topics.js';

export type { MainOptions, Writer } from './context.js';

function version(): string {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The whole program; a new one per run (commander keeps parse state on it). */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('kbroker')
    .description('a Kafka-style broker whose metadata lives in an embedded Raft quorum')
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    // Set before any command is added: subcommands inherit both.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      // main() prints the one error line itself, from the CommanderError.
      outputError: () => {},
    })
    .showSuggestionAfterError(true);
  registerStart(program, ctx);
  registerStorage(program, ctx);
  registerQuorum(program, ctx);
  registerTopics(program, ctx);
  registerConfigs(program, ctx);
  registerCluster(program, ctx);
  registerOffsets(program, ctx);
  registerLeaders(program, ctx);
  registerMetadataShell(program, ctx);
  registerMigrate(program, ctx);
  registerDev(program, ctx);
  registerCredential(program, ctx);
  return program;
}

/** One line: the message without commander's `error: ` prefix and with its suggestion kept inline. */
function oneLine(message: string): string {
  return message
    .replace(/^error:\s*/i, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
}

function report(ctx: CliContext, err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
    // Help printed because a command group was run without a subcommand (exit 1 from commander).
    if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    ctx.err(`kbroker: ${oneLine(err.message)}`);
    return EXIT_USAGE;
  }
  if (err instanceof CliError) {
    ctx.err(`kbroker: ${oneLine(err.message)}`);
    return err.exitCode;
  }
  if (err instanceof ConfigError) {
    ctx.err(`kbroker: ${oneLine(err.message)}`);
    return EXIT_USAGE;
  }
  const message = err instanceof Error ? err.message || err.name : String(err);
  ctx.err(`kbroker: ${oneLine(message)}`);
  if (process.env.KBROKER_DEBUG && err instanceof Error && err.stack) ctx.stderr.write(`${err.stack}\n`);
  return EXIT_FAILURE;
}

/**
 * Runs the CLI. `argv` is `process.argv`-shaped: `[node, script, ...args]`. Resolves with the exit
 * code; `kbroker start` and `kbroker dev` resolve only once their node(s) stopped.
 */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const ctx = createContext(options);
  try {
    await buildProgram(ctx).parseAsync([...argv], { from: 'node' });
    return ctx.exitCode;
  } catch (err) {
    return report(ctx, err);
  }
}
