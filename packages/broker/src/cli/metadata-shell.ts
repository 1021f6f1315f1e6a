/**
 * `kbroker metadata-shell`: browse the metadata of a snapshot file or of a live cluster as a tree, one
 * command per invocation (`kbroker metadata-shell --snapshot f.bin ls /topics`) or at a prompt.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { type ClientFlags, DEFAULT_BOOTSTRAP, withClient, withClientOptions } from './client.js';
import { type CliContext, CliError, EXIT_FAILURE, UsageError } from './context.js';
import {
  type LiveMetadata,
  MetadataShell,
  type TreeNode,
  treeFromImage,
  treeFromLive,
} from './metadata-tree.js';

interface ShellFlags extends ClientFlags {
  snapshot?: string;
}

export async function loadSnapshotTree(file: string): Promise<TreeNode> {
  const { readSnapshot } = await import('@kbroker/metadata-log');
  try {
    return treeFromImage(await readSnapshot(createReadStream(file)));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new CliError(`cannot read snapshot ${file}: no such file`);
    if (e.code === 'EISDIR') throw new CliError(`cannot read snapshot ${file}: is a directory`);
    throw new CliError(`cannot read snapshot ${file}: ${e.message}`);
  }
}

export async function loadLiveTree(ctx: CliContext, flags: ClientFlags): Promise<TreeNode> {
  return withClient(ctx, flags, async ({ admin, offsets }) => {
    const [cluster, { topics }, groups] = await Promise.all([
      admin.describeCluster(),
      admin.describeTopics(),
      offsets.listGroups(),
    ]);
    const resources = [
      ...topics.map((t) => ({ type: 'topic' as const, name: t.name })),
      { type: 'broker' as const, name: '' },
      ...cluster.brokers.map((b) => ({ type: 'broker' as const, name: String(b.nodeId) })),
    ];
    const [configs, groupOffsets] = await Promise.all([
      admin.describeConfigs({ resources }).then((r) => r.resources),
      Promise.all(groups.map(async (g) => ({ groupId: g.groupId, offsets: await offsets.fetch(g.groupId) }))),
    ]);
    const data: LiveMetadata = { cluster, topics, configs, groups: groupOffsets };
    return treeFromLive(data);
  });
}

export function registerMetadataShell(program: Command, ctx: CliContext): void {
  withClientOptions(
    program
      .command('metadata-shell')
      .description(
        'browse the metadata as a tree (/cluster /features /brokers /topics /configs /offsets) of a snapshot ' +
          'file or a live cluster; runs one command when given, else prompts (ls, cat, tree, find, cd, pwd)',
      )
      .argument('[command...]', 'one shell command, e.g. ls /topics')
      .option('--snapshot <file>', 'read this metadata snapshot file instead of a live cluster'),
  ).action(async (words: string[], flags: ShellFlags, cmd: Command) => {
    const bootstrapGiven =
      cmd.getOptionValueSource('bootstrap') === 'cli' || flags.bootstrapServer !== undefined;
    if (flags.snapshot !== undefined && bootstrapGiven) {
      throw new UsageError('give either --snapshot or --bootstrap, not both');
    }
    const snapshot = flags.snapshot;
    const load = () => (snapshot !== undefined ? loadSnapshotTree(snapshot) : loadLiveTree(ctx, flags));
    const shell = new MetadataShell(await load(), { json: flags.json === true });
    if (words.length > 0) {
      const r = shell.exec(words);
      if (r.out.length > 0) ctx.out(r.out.join('\n'));
      if (r.error !== undefined) throw new CliError(r.error);
      return;
    }
    const source =
      snapshot !== undefined
        ? `snapshot ${snapshot}`
        : `cluster at ${(flags.bootstrapServer ?? flags.bootstrap ?? [DEFAULT_BOOTSTRAP]).join(',')}`;
    await repl(ctx, shell, source, load);
  });
}

async function repl(ctx: CliContext, shell: MetadataShell, source: string, load: () => Promise<TreeNode>) {
  const stdin = ctx.stdin as NodeJS.ReadableStream & { isTTY?: boolean };
  const interactive = stdin.isTTY === true && ctx.stdout.isTTY === true;
  const rl = createInterface({
    input: stdin,
    output: interactive ? (ctx.stdout as unknown as NodeJS.WritableStream) : undefined,
    terminal: interactive,
    completer: (line: string): [string[], string] => {
      const word = /\S*$/.exec(line)?.[0] ?? '';
      return [shell.complete(word), word];
    },
  });
  rl.on('SIGINT', () => rl.close());
  const prompt = () => {
    if (!interactive) return;
    rl.setPrompt(`${shell.cwd}> `);
    rl.prompt();
  };
  if (interactive) ctx.out(`kbroker metadata shell: ${source}. Type help for commands, exit to leave.`);
  prompt();
  let failed = false;
  for await (const line of rl) {
    const r = shell.run(line);
    if (r.out.length > 0) ctx.out(r.out.join('\n'));
    if (r.error !== undefined) {
      failed = true;
      ctx.err(r.error);
    }
    if (r.refresh) {
      try {
        shell.setRoot(await load());
        ctx.out(`reloaded from ${source}`);
      } catch (err) {
        failed = true;
        ctx.err(`refresh failed: ${(err as Error).message}`);
      }
    }
    if (r.exit) break;
    prompt();
  }
  rl.close();
  // Piped commands: a failed one fails the run, as a script would.
  if (failed && !interactive) ctx.exitCode = EXIT_FAILURE;
}
