/** `kbroker leaders elect`: preferred (or unclean) leader election, as kafka-leader-election. */
import type { Command } from 'commander';
import { type ClientFlags, emit, withClient, withClientOptions } from './client.js';
import { type CliContext, CliError, EXIT_FAILURE, UsageError } from './context.js';
import { renderTable } from './format.js';
import { arg } from './options.js';

/** Not a failure: the preferred leader already leads. */
const ELECTION_NOT_NEEDED = 'ELECTION_NOT_NEEDED';

const partitionsArg = arg((value: string) =>
  value.split(',').map((p) => {
    const n = /^\s*\d+\s*$/.test(p) ? Number(p) : Number.NaN;
    if (!Number.isSafeInteger(n)) throw new Error('expected a partition number or a list n,n,...');
    return n;
  }),
);

interface ElectFlags extends ClientFlags {
  preferred?: boolean;
  unclean?: boolean;
  topic?: string;
  partition?: number[];
}

export function registerLeaders(program: Command, ctx: CliContext): void {
  const leaders = program.command('leaders').description('partition leadership');
  withClientOptions(
    leaders
      .command('elect')
      .description('elect leaders: every partition, one topic, or some of its partitions')
      .option('--preferred', 'move leadership back to the preferred replica (the default)')
      .option('--unclean', 'elect a leader outside the ISR when none in it is alive (may lose data)')
      .option('--topic <name>', 'only this topic')
      .option('--partition <n,...>', 'only these partitions (with --topic)', partitionsArg),
  ).action(async (flags: ElectFlags) => {
    if (flags.preferred && flags.unclean)
      throw new UsageError('give either --preferred or --unclean, not both');
    if (flags.partition !== undefined && flags.topic === undefined) {
      throw new UsageError('--partition needs --topic');
    }
    const results = await withClient(ctx, flags, async (s) => {
      let topicPartitions: { topic: string; partitions: number[] }[] | undefined;
      if (flags.topic !== undefined) {
        let partitions = flags.partition;
        if (partitions === undefined) {
          const { topics } = await s.admin.describeTopics({ topics: [flags.topic] });
          const t = topics.find((x) => x.name === flags.topic);
          if (t === undefined)
            throw new CliError(`UNKNOWN_TOPIC_OR_PARTITION: topic ${flags.topic} does not exist`);
          partitions = t.partitions.map((p) => p.partitionId);
        }
        topicPartitions = [{ topic: flags.topic, partitions }];
      }
      return s.admin.electLeaders({
        preferred: !flags.unclean,
        ...(topicPartitions === undefined ? {} : { topicPartitions }),
      });
    });
    results.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    const failed = results.filter((r) => r.error !== null && r.error !== ELECTION_NOT_NEEDED);
    if (failed.length > 0) ctx.exitCode = EXIT_FAILURE;
    emit(ctx, flags, results, () => {
      if (results.length === 0) return 'No partition needed an election.';
      const elected = results.filter((r) => r.error === null).length;
      const notNeeded = results.filter((r) => r.error === ELECTION_NOT_NEEDED).length;
      return [
        renderTable(
          ['Topic', 'Partition', 'Result'],
          results.map((r) => [
            r.topic,
            r.partition,
            r.error === null
              ? 'elected'
              : r.error === ELECTION_NOT_NEEDED
                ? 'already led by its preferred replica'
                : r.error,
          ]),
        ),
        '',
        `${elected} elected, ${notNeeded} not needed, ${failed.length} failed.`,
      ].join('\n');
    });
  });
}
