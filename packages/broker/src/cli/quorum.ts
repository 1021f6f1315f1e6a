/**
 * `kbroker quorum`: `describe --status | --replication` with the fields and order of
 * `kafka-metadata-quorum`, and voter changes (`add-voter`, `remove-voter`).
 */
import type { QuorumInfo } from '@kbroker/client/protocol';
import type { Command } from 'commander';
import { type ClientFlags, emit, withClient, withClientOptions } from './client.js';
import type { CliContext } from './context.js';
import { ago, renderKeyValues, renderTable } from './format.js';
import { hostPortArg, intArg } from './options.js';

/** The `describe --status` block, in kafka-metadata-quorum's order. */
export function quorumStatus(info: QuorumInfo) {
  return {
    clusterId: info.clusterId,
    leaderId: info.leaderId,
    leaderEpoch: info.leaderEpoch,
    highWatermark: info.highWatermark,
    maxFollowerLag: info.maxFollowerLag,
    maxFollowerLagTimeMs: info.maxFollowerLagTimeMs,
    currentVoters: info.currentVoters,
    currentObservers: info.currentObservers,
  };
}

/** Kafka 3.9's one-line voter entry: `{"id": 1, "endpoints": ["host:port"]}` (endpoints left out when none). */
function voterList(entries: readonly { id: number; endpoints?: readonly string[] }[]): string {
  const one = (e: { id: number; endpoints?: readonly string[] }) =>
    e.endpoints !== undefined && e.endpoints.length > 0
      ? `{"id": ${e.id}, "endpoints": [${e.endpoints.map((p) => JSON.stringify(p)).join(', ')}]}`
      : `{"id": ${e.id}}`;
  return `[${entries.map(one).join(', ')}]`;
}

export function renderQuorumStatus(info: QuorumInfo): string {
  return renderKeyValues(
    [
      ['ClusterId', info.clusterId],
      ['LeaderId', info.leaderId],
      ['LeaderEpoch', info.leaderEpoch],
      ['HighWatermark', info.highWatermark],
      ['MaxFollowerLag', info.maxFollowerLag],
      ['MaxFollowerLagTimeMs', info.maxFollowerLagTimeMs],
      ['CurrentVoters', voterList(info.currentVoters)],
      ['CurrentObservers', voterList(info.currentObservers)],
    ],
    { gap: 1 },
  );
}

const STATUS_ORDER = { Leader: 0, Follower: 1, Observer: 2 } as const;

export function renderQuorumReplication(info: QuorumInfo, humanReadable = false, nowMs = Date.now()): string {
  const ts = (t: number) => (humanReadable ? ago(t, nowMs) : t);
  const replicas = [...info.replicas].sort(
    (a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || a.nodeId - b.nodeId,
  );
  return renderTable(
    ['NodeId', 'LogEndOffset', 'Lag', 'LastFetchTimestamp', 'LastCaughtUpTimestamp', 'Status'],
    replicas.map((r) => [
      r.nodeId,
      r.logEndOffset,
      r.lag,
      ts(r.lastFetchTimestamp),
      ts(r.lastCaughtUpTimestamp),
      r.status,
    ]),
  );
}

interface DescribeFlags extends ClientFlags {
  status?: boolean;
  replication?: boolean;
  humanReadable?: boolean;
}

export function registerQuorum(program: Command, ctx: CliContext): void {
  const quorum = program.command('quorum').description('the controller quorum: status, replication, voters');

  withClientOptions(
    quorum
      .command('describe')
      .description('describe the quorum as kafka-metadata-quorum does (--status when neither is given)')
      .option('--status', 'leader, epoch, high watermark, follower lag, voters and observers')
      .option('--replication', 'one row per replica: log end offset, lag, fetch times, status')
      .option('--human-readable', 'timestamps as "N ms ago" (with --replication)'),
  ).action(async (flags: DescribeFlags) => {
    const info = await withClient(ctx, flags, (s) => s.admin.describeQuorum());
    const status = flags.status === true || flags.replication !== true;
    const replication = flags.replication === true;
    const json = status && replication ? info : status ? quorumStatus(info) : info.replicas;
    emit(ctx, flags, json, () =>
      [
        ...(status ? [renderQuorumStatus(info)] : []),
        ...(replication ? [renderQuorumReplication(info, flags.humanReadable)] : []),
      ].join('\n\n'),
    );
  });

  withClientOptions(
    quorum
      .command('add-voter')
      .description('add a controller to the voter set (it must be running and caught up as an observer)')
      .requiredOption('--node-id <id>', 'the new voter id', intArg('--node-id', 1))
      .requiredOption('--address <host:port>', 'its quorum address', hostPortArg('--address')),
  ).action(async (flags: ClientFlags & { nodeId: number; address: string }) => {
    await withClient(ctx, flags, (s) => s.admin.addVoter({ nodeId: flags.nodeId, address: flags.address }));
    emit(
      ctx,
      flags,
      { added: flags.nodeId, address: flags.address },
      () => `Added voter ${flags.nodeId} at ${flags.address}.`,
    );
  });

  withClientOptions(
    quorum
      .command('remove-voter')
      .description('remove a controller from the voter set')
      .requiredOption('--node-id <id>', 'the voter to remove', intArg('--node-id', 1)),
  ).action(async (flags: ClientFlags & { nodeId: number }) => {
    await withClient(ctx, flags, (s) => s.admin.removeVoter({ nodeId: flags.nodeId }));
    emit(ctx, flags, { removed: flags.nodeId }, () => `Removed voter ${flags.nodeId}.`);
  });
}
