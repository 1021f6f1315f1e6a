/**
 * `kbroker format` and `kbroker random-cluster-id`: the equivalents of `kafka-storage.sh format` and
 * `random-uuid`. Formatting is idempotent for the same identity and refuses another.
 */
import { resolve } from 'node:path';
import { DataDirError, formatDataDir, randomClusterId, readDataDir } from '@kbroker/raft';
import type { Command } from 'commander';
import { ConfigError, NODE_DEFAULTS } from '../node/config.js';
import { loadConfigFile, mergeSettings, type StartSettings } from './config-file.js';
import { type CliContext, CliError, UsageError } from './context.js';
import { toJson } from './format.js';
import { settingArg } from './options.js';

interface FormatFlags {
  clusterId?: string;
  nodeId?: number;
  dataDir?: string;
  config?: string;
  json?: boolean;
}

export function registerStorage(program: Command, ctx: CliContext): void {
  program
    .command('format')
    .description('format a data dir for one node of one cluster (idempotent; refuses a dir of another)')
    .option('--cluster-id <id>', 'the cluster id (see random-cluster-id)', settingArg('clusterId'))
    .option('--node-id <id>', 'this node id', settingArg('nodeId'))
    .option('--data-dir <dir>', `the data dir (default ${NODE_DEFAULTS.dataDir})`, settingArg('dataDir'))
    .option('--config <file>', 'take node id, data dir and cluster id from the file `start` uses (flags win)')
    .option('--json', 'print the identity as JSON')
    .action(async (flags: FormatFlags) => {
      await runFormat(ctx, flags);
    });

  program
    .command('random-cluster-id')
    .description('print a new random cluster id')
    .action(() => {
      ctx.out(randomClusterId());
    });
}

async function runFormat(ctx: CliContext, flags: FormatFlags): Promise<void> {
  let settings: StartSettings;
  try {
    const file = flags.config === undefined ? {} : await loadConfigFile(flags.config);
    settings = mergeSettings(file, {
      clusterId: flags.clusterId,
      nodeId: flags.nodeId,
      dataDir: flags.dataDir,
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  const { clusterId, nodeId } = settings;
  if (clusterId === undefined) {
    throw new UsageError(
      "required option '--cluster-id <id>' not specified (kbroker random-cluster-id prints one)",
    );
  }
  if (nodeId === undefined) throw new UsageError("required option '--node-id <id>' not specified");
  const dir = settings.dataDir ?? NODE_DEFAULTS.dataDir;
  const shown = resolve(ctx.options.cwd ?? process.cwd(), dir);
  let already: boolean;
  let identity: Awaited<ReturnType<typeof formatDataDir>>;
  try {
    already = (await readDataDir(dir)) !== undefined;
    identity = await formatDataDir(dir, { clusterId, nodeId });
  } catch (err) {
    if (err instanceof DataDirError) throw new CliError(err.message);
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOTDIR' || e.code === 'EEXIST') throw new CliError(`data dir ${dir} is not a directory`);
    throw err;
  }
  if (flags.json) {
    ctx.out(toJson({ dataDir: shown, ...identity, alreadyFormatted: already }));
  } else if (already) {
    ctx.out(
      `${shown} is already formatted for cluster ${identity.clusterId}, node ${identity.nodeId} (unchanged).`,
    );
  } else {
    ctx.out(`Formatted ${shown} for cluster ${identity.clusterId}, node ${identity.nodeId}.`);
  }
}
