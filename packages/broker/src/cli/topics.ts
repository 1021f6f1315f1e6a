/** `kbroker topics`: create, delete, list, describe (as kafka-topics). */
import type { TopicMetadata } from '@kbroker/client';
import type { Command } from 'commander';
import { type ClientFlags, emit, withClient, withClientOptions } from './client.js';
import { type CliContext, CliError, UsageError } from './context.js';
import { renderTable } from './format.js';
import { collect, intArg } from './options.js';

/** `k=v` pairs from repeated `--config k=v` (each may also hold `k=v,k=v`). */
export function parseConfigPairs(values: readonly string[], flag: string): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const v of values) {
    for (const pair of splitConfigList(v)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`${flag} expects key=value, got ${JSON.stringify(pair)}`);
      out.push({ name: pair.slice(0, eq).trim(), value: unbracket(pair.slice(eq + 1).trim()) });
    }
  }
  return out;
}

/** Splits `a=1,b=[x,y],c=3` at the commas outside brackets (kafka-configs' list syntax). */
export function splitConfigList(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[') depth++;
    else if (c === ']') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function unbracket(value: string): string {
  return value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
}

const leaderText = (leader: number) => (leader < 0 ? 'none' : leader);

export function renderTopics(topics: readonly TopicMetadata[]): string {
  const rows = [...topics]
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((t) =>
      [...t.partitions]
        .sort((a, b) => a.partitionId - b.partitionId)
        .map((p) => [
          t.name,
          p.partitionId,
          leaderText(p.leader),
          p.leaderEpoch,
          p.partitionEpoch,
          p.replicas,
          p.isr,
          p.isr.length < p.replicas.length ? 'under-replicated' : p.leader < 0 ? 'offline' : '',
        ]),
    );
  return renderTable(
    [
      'Topic',
      { header: 'Partition', align: 'right' },
      { header: 'Leader', align: 'right' },
      { header: 'LeaderEpoch', align: 'right' },
      { header: 'PartitionEpoch', align: 'right' },
      'Replicas',
      'Isr',
      'Note',
    ],
    rows,
  );
}

export function registerTopics(program: Command, ctx: CliContext): void {
  const topics = program.command('topics').description('create, delete, list and describe topics');

  withClientOptions(
    topics
      .command('create')
      .description('create a topic')
      .requiredOption('--topic <name>', 'the topic name')
      .requiredOption('--partitions <n>', 'number of partitions', intArg('--partitions', 1))
      .requiredOption('--replication-factor <n>', 'replicas per partition', intArg('--replication-factor', 1))
      .option('--config <key=value>', 'a topic config (repeatable; or k=v,k=v)', collect)
      .option('--if-not-exists', 'succeed when the topic already exists'),
  ).action(
    async (
      flags: ClientFlags & {
        topic: string;
        partitions: number;
        replicationFactor: number;
        config?: string[];
        ifNotExists?: boolean;
      },
    ) => {
      const configEntries = parseConfigPairs(flags.config ?? [], '--config');
      const created = await withClient(ctx, flags, (s) =>
        s.admin.createTopics({
          topics: [
            {
              topic: flags.topic,
              numPartitions: flags.partitions,
              replicationFactor: flags.replicationFactor,
              configEntries,
            },
          ],
        }),
      );
      if (!created && !flags.ifNotExists)
        throw new CliError(`TOPIC_ALREADY_EXISTS: topic ${flags.topic} already exists`);
      emit(ctx, flags, { topic: flags.topic, created }, () =>
        created ? `Created topic ${flags.topic}.` : `Topic ${flags.topic} already exists.`,
      );
    },
  );

  withClientOptions(
    topics
      .command('delete')
      .description('delete a topic')
      .requiredOption('--topic <name>', 'the topic name')
      .option('--if-exists', 'succeed when the topic does not exist'),
  ).action(async (flags: ClientFlags & { topic: string; ifExists?: boolean }) => {
    let deleted = true;
    await withClient(ctx, flags, async (s) => {
      if (flags.ifExists && !(await s.admin.listTopics()).includes(flags.topic)) {
        deleted = false;
        return;
      }
      await s.admin.deleteTopics({ topics: [flags.topic] });
    });
    emit(ctx, flags, { topic: flags.topic, deleted }, () =>
      deleted ? `Deleted topic ${flags.topic}.` : `Topic ${flags.topic} does not exist.`,
    );
  });

  withClientOptions(topics.command('list').description('list topic names')).action(
    async (flags: ClientFlags) => {
      const names = (await withClient(ctx, flags, (s) => s.admin.listTopics())).sort();
      if (flags.json) emit(ctx, flags, names, () => '');
      else if (names.length > 0) ctx.out(names.join('\n'));
    },
  );

  withClientOptions(
    topics
      .command('describe')
      .description('partitions of one topic or all: leader, replicas, ISR, epochs')
      .option('--topic <name>', 'only this topic'),
  ).action(async (flags: ClientFlags & { topic?: string }) => {
    const { topics: found } = await withClient(ctx, flags, (s) =>
      s.admin.describeTopics(flags.topic === undefined ? {} : { topics: [flags.topic] }),
    );
    if (flags.topic !== undefined && found.length === 0) {
      throw new CliError(`UNKNOWN_TOPIC_OR_PARTITION: topic ${flags.topic} does not exist`);
    }
    emit(ctx, flags, found, () =>
      found.length === 0
        ? 'No topics.'
        : [
            ...[...found]
              .sort((a, b) => a.name.localeCompare(b.name))
              .map(
                (t) =>
                  `Topic: ${t.name}  TopicId: ${t.topicId}  PartitionCount: ${t.partitions.length}  ReplicationFactor: ${t.partitions[0]?.replicas.length ?? 0}`,
              ),
            '',
            renderTopics(found),
          ].join('\n'),
    );
  });
}
