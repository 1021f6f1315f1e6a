/** `kbroker offsets`: committed consumer-group offsets, which kbroker keeps in the metadata log. */
import type { Command } from 'commander';
import { type ClientFlags, emit, withClient, withClientOptions } from './client.js';
import { type CliContext, CliError } from './context.js';
import { renderTable } from './format.js';
import { intArg } from './options.js';

export function registerOffsets(program: Command, ctx: CliContext): void {
  const offsets = program.command('offsets').description('committed consumer-group offsets');

  withClientOptions(
    offsets
      .command('commit')
      .description('commit an offset for a group')
      .requiredOption('--group <id>', 'the group id')
      .requiredOption('--topic <name>', 'the topic')
      .requiredOption('--partition <n>', 'the partition', intArg('--partition', 0))
      .requiredOption('--offset <n>', 'the offset', intArg('--offset', 0))
      .option('--metadata <text>', 'metadata stored with the offset'),
  ).action(
    async (
      flags: ClientFlags & {
        group: string;
        topic: string;
        partition: number;
        offset: number;
        metadata?: string;
      },
    ) => {
      const entry = {
        topic: flags.topic,
        partition: flags.partition,
        offset: flags.offset,
        ...(flags.metadata === undefined ? {} : { metadata: flags.metadata }),
      };
      await withClient(ctx, flags, (s) => s.offsets.commit(flags.group, [entry]));
      emit(
        ctx,
        flags,
        { groupId: flags.group, ...entry },
        () =>
          `Committed offset ${flags.offset} for group ${flags.group} on ${flags.topic}-${flags.partition}.`,
      );
    },
  );

  withClientOptions(
    offsets
      .command('fetch')
      .description("a group's committed offsets")
      .requiredOption('--group <id>', 'the group id')
      .option('--topic <name>', 'only this topic'),
  ).action(async (flags: ClientFlags & { group: string; topic?: string }) => {
    const rows = await withClient(ctx, flags, (s) =>
      s.offsets.fetch(flags.group, flags.topic === undefined ? undefined : [flags.topic]),
    );
    rows.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    emit(ctx, flags, rows, () =>
      rows.length === 0
        ? `Group ${flags.group} has no committed offsets.`
        : renderTable(
            ['Topic', 'Partition', 'Offset', 'Metadata'],
            rows.map((r) => [r.topic, r.partition, r.offset, r.metadata]),
          ),
    );
  });

  withClientOptions(offsets.command('list-groups').description('groups with committed offsets')).action(
    async (flags: ClientFlags) => {
      const groups = await withClient(ctx, flags, (s) => s.offsets.listGroups());
      groups.sort((a, b) => a.groupId.localeCompare(b.groupId));
      emit(ctx, flags, groups, () =>
        groups.length === 0
          ? 'No groups.'
          : renderTable(
              ['GroupId', 'Partitions'],
              groups.map((g) => [g.groupId, g.partitions]),
            ),
      );
    },
  );

  withClientOptions(
    offsets
      .command('delete-group')
      .description("delete a group's committed offsets")
      .requiredOption('--group <id>', 'the group id')
      .option('--if-exists', 'succeed when the group has no offsets'),
  ).action(async (flags: ClientFlags & { group: string; ifExists?: boolean }) => {
    const deleted = await withClient(ctx, flags, async (s) => {
      const known = (await s.offsets.listGroups()).some((g) => g.groupId === flags.group);
      if (!known) {
        if (flags.ifExists) return false;
        throw new CliError(`GROUP_ID_NOT_FOUND: group ${flags.group} has no committed offsets`);
      }
      await s.offsets.deleteGroup(flags.group);
      return true;
    });
    emit(ctx, flags, { groupId: flags.group, deleted }, () =>
      deleted ? `Deleted group ${flags.group}.` : `Group ${flags.group} does not exist.`,
    );
  });
}
