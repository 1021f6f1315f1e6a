/**
 * `kbroker migrate preflight|plan|run|verify|status` and `kbroker zk-dump`: moving a ZooKeeper-based
 * Kafka cluster's metadata into kbroker (see docs/migration.md). The source (`--zookeeper` or
 * `--from-dump`) is only ever read.
 */
import { resolve } from 'node:path';
import { Kbroker } from '@kbroker/client';
import { DataDirError } from '@kbroker/raft';
import { ZkError } from '@kbroker/zk-view';
import { SingleBar } from 'cli-progress';
import { type Command, Option } from 'commander';
import {
  bootstrapDataDir,
  MigrationError,
  migrationStatus,
  resumePoint,
  runOnline,
} from '../migrate/apply.js';
import { type KafkaLayout, layoutCounts, parseLayout } from '../migrate/layout.js';
import { DEFAULT_BATCH_RECORDS, type MigrationPlan, planMigration } from '../migrate/plan.js';
import { DumpError, readDump, readZooKeeper, type SourceTree, writeDump } from '../migrate/source.js';
import { type VerifyReport, verifyMigration } from '../migrate/verify.js';
import { ConfigError } from '../node/config.js';
import { DEFAULT_BOOTSTRAP, describeClientError } from './client.js';
import { loadConfigFile, mergeSettings } from './config-file.js';
import { type CliContext, CliError, EXIT_FAILURE, UsageError, type Writer } from './context.js';
import { ago, renderKeyValues, renderTable, toJson } from './format.js';
import { intArg, serversArg, settingArg } from './options.js';

interface SourceFlags {
  zookeeper?: string;
  zookeeperAuth?: string;
  fromDump?: string;
  json?: boolean;
  progress?: boolean;
}

interface TargetFlags {
  bootstrap?: string[];
  timeoutMs: number;
}

function sourceOptions(cmd: Command): Command {
  return cmd
    .option('--zookeeper <connect>', 'the source ZooKeeper: host:port[,host:port...][/chroot] (only read)')
    .option('--zookeeper-auth <user:password>', 'digest authentication for the source ZooKeeper')
    .option('--from-dump <file>', 'read the source from a file `kbroker zk-dump` wrote instead')
    .option('--json', 'print JSON (for scripts) instead of tables')
    .option(
      '--no-progress',
      'no progress bar (it is off anyway when stderr is not a terminal, or with --json)',
    );
}

function bootstrapOption(cmd: Command, required: boolean): Command {
  return cmd
    .addOption(
      new Option(
        '--bootstrap <host:port,...>',
        required ? 'the kbroker cluster' : 'the kbroker cluster to check against',
      ).argParser(serversArg),
    )
    .addOption(
      new Option('--timeout-ms <ms>', 'per-request timeout')
        .argParser(intArg('--timeout-ms', 1))
        .default(30_000),
    );
}

/** A bar on stderr, only for people (a terminal, no --json, no --no-progress). */
function progressBar(ctx: CliContext, flags: SourceFlags, format: string): SingleBar | undefined {
  const err = ctx.stderr as Writer & NodeJS.WritableStream;
  if (flags.json || flags.progress === false || err.isTTY !== true) return undefined;
  return new SingleBar({ stream: err, format, hideCursor: true, etaBuffer: 50, fps: 10 });
}

function secondsSince(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}

const rate = (n: number, s: number) => (s > 0 ? Math.round(n / s) : n);

interface Loaded {
  readonly tree: SourceTree;
  readonly layout: KafkaLayout;
  readonly readSeconds: number;
  readonly nodes: number;
}

/** Reads and parses the source named by the flags; every failure is one CliError line. */
async function loadSource(ctx: CliContext, flags: SourceFlags): Promise<Loaded> {
  if ((flags.zookeeper === undefined) === (flags.fromDump === undefined)) {
    throw new UsageError('give the source: either --zookeeper <connect> or --from-dump <file>');
  }
  if (flags.zookeeperAuth !== undefined && !flags.zookeeperAuth.includes(':')) {
    throw new UsageError('--zookeeper-auth must be user:password');
  }
  const start = process.hrtime.bigint();
  let tree: SourceTree;
  try {
    if (flags.fromDump !== undefined) tree = await readDump(flags.fromDump);
    else {
      const bar = progressBar(ctx, flags, 'reading ZooKeeper  {value} znodes  {rate}/s');
      bar?.start(0, 0, { rate: 0 });
      try {
        tree = await readZooKeeper(flags.zookeeper!, {
          ...(flags.zookeeperAuth === undefined ? {} : { digest: flags.zookeeperAuth }),
          onProgress: (p) => {
            bar?.setTotal(p.nodes);
            bar?.update(p.nodes, { rate: rate(p.nodes, secondsSince(start)) });
          },
        });
      } finally {
        bar?.stop();
      }
    }
  } catch (err) {
    if (err instanceof DumpError) throw new CliError(err.message);
    if (err instanceof ZkError || (err as Error).message?.startsWith('invalid')) {
      throw new CliError(`cannot read ZooKeeper ${flags.zookeeper}: ${(err as Error).message}`);
    }
    throw err;
  }
  const readSeconds = secondsSince(start);
  return { tree, layout: parseLayout(tree), readSeconds, nodes: tree.nodes.size };
}

async function withKbroker<T>(flags: TargetFlags, fn: (client: Kbroker) => Promise<T>): Promise<T> {
  const brokers = flags.bootstrap ?? [DEFAULT_BOOTSTRAP];
  const client = new Kbroker({
    brokers,
    clientId: 'kbroker-migrate',
    requestTimeoutMs: flags.timeoutMs,
    connectionTimeoutMs: Math.min(3_000, flags.timeoutMs),
  });
  try {
    return await fn(client);
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof MigrationError) throw new CliError(err.message);
    throw describeClientError(err, brokers);
  } finally {
    await client.disconnect().catch(() => {});
  }
}

function issueRows(layout: KafkaLayout, skipMalformed: boolean) {
  const order = { blocker: 0, malformed: 1, warning: 2 } as const;
  return [...layout.issues]
    .sort((a, b) => order[a.severity] - order[b.severity] || (a.path < b.path ? -1 : 1))
    .map((i) => [
      i.severity === 'malformed' && skipMalformed ? 'malformed (skipped)' : i.severity,
      i.path,
      i.reason,
    ]);
}

/** What stops `run`: blockers, and malformed znodes unless they are to be skipped. */
function stoppers(layout: KafkaLayout, skipMalformed: boolean) {
  return layout.issues.filter(
    (i) => i.severity === 'blocker' || (i.severity === 'malformed' && !skipMalformed),
  );
}

export function registerMigrate(program: Command, ctx: CliContext): void {
  program
    .command('zk-dump')
    .description(
      'write the Kafka layout of a ZooKeeper (paths, data, stats) to a JSON file, for migrate --from-dump',
    )
    .requiredOption('--zookeeper <connect>', 'host:port[,host:port...][/chroot] (only read)')
    .option('--zookeeper-auth <user:password>', 'digest authentication')
    .requiredOption('--out <file>', 'the dump file to write')
    .option('--json', 'print JSON (for scripts)')
    .option('--no-progress', 'no progress bar')
    .action(async (flags: SourceFlags & { out: string }) => {
      const loaded = await loadSource(ctx, { ...flags, fromDump: undefined });
      let written: number;
      try {
        written = await writeDump(loaded.tree, flags.out);
      } catch (err) {
        throw new CliError(`cannot write ${flags.out}: ${(err as Error).message}`);
      }
      const out = resolve(ctx.options.cwd ?? process.cwd(), flags.out);
      const result = { out, znodes: written, source: loaded.tree.source, readSeconds: loaded.readSeconds };
      ctx.out(flags.json ? toJson(result) : `Wrote ${written} znodes from ${loaded.tree.source} to ${out}.`);
    });

  const migrate = program
    .command('migrate')
    .description("migrate a ZooKeeper-based Kafka cluster's metadata into kbroker (see docs/migration.md)")
    // The source may also be named before the step: `kbroker migrate --from-dump tree.json plan`.
    .option('--zookeeper <connect>', 'the source ZooKeeper, for every step below')
    .option('--zookeeper-auth <user:password>', 'digest authentication for the source ZooKeeper')
    .option(
      '--from-dump <file>',
      'read the source from a file `kbroker zk-dump` wrote, for every step below',
    );
  /** A step's flags over the source named on `migrate` itself (the step's own flags win). */
  const withSource = <F extends SourceFlags>(flags: F): F => ({
    ...(migrate.opts() as SourceFlags),
    ...flags,
  });

  bootstrapOption(
    sourceOptions(
      migrate
        .command('preflight')
        .description('read the whole source and report counts, malformed znodes and blockers; writes nothing')
        .option('--skip-malformed', 'malformed znodes will be skipped by run (they do not block)'),
    ),
    false,
  ).action(async (flags: SourceFlags & TargetFlags & { skipMalformed?: boolean }) => {
    const { layout, readSeconds, nodes } = await loadSource(ctx, withSource(flags));
    const counts = layoutCounts(layout);
    let target: { clusterId: string; clusterIdMatches: boolean; migration: unknown } | undefined;
    const extra: { severity: 'blocker'; path: string; reason: string }[] = [];
    if (flags.bootstrap !== undefined) {
      target = await withKbroker(flags, async (client) => {
        const t = await migrationStatus(client.rpc());
        if (layout.clusterId !== null && t.clusterId !== layout.clusterId) {
          extra.push({
            severity: 'blocker',
            path: '/cluster/id',
            reason: `the target's cluster id is ${t.clusterId}; format the kbroker nodes with --cluster-id ${layout.clusterId}`,
          });
        }
        if (layout.clusterId !== null && t.clusterId === layout.clusterId) {
          try {
            resumePoint(planMigration(layout), t);
          } catch (err) {
            extra.push({ severity: 'blocker', path: '(target)', reason: (err as Error).message });
          }
          const { topics } = await client.rpc().request('listTopics', {});
          const names = new Set(layout.topics.map((x) => x.name));
          const ids = new Set(layout.topics.map((x) => x.id));
          for (const x of topics) {
            if (t.state === null && (names.has(x.name) || ids.has(x.topicId))) {
              extra.push({
                severity: 'blocker',
                path: `/brokers/topics/${x.name}`,
                reason: `topic ${x.name} (${x.topicId}) already exists in the target`,
              });
            }
          }
        }
        return {
          clusterId: t.clusterId,
          clusterIdMatches: t.clusterId === layout.clusterId,
          migration: t.state,
        };
      });
    }
    const all: KafkaLayout = { ...layout, issues: [...layout.issues, ...extra] };
    const stop = stoppers(all, flags.skipMalformed === true);
    if (stop.length > 0) ctx.exitCode = EXIT_FAILURE;
    const result = {
      source: layout.source,
      clusterId: layout.clusterId,
      controllerEpoch: layout.controllerEpoch,
      znodesRead: nodes,
      readSeconds,
      counts,
      issues: all.issues,
      blocked: stop.length > 0,
      ...(target === undefined ? {} : { target }),
    };
    if (flags.json) return ctx.out(toJson(result));
    ctx.out(
      renderKeyValues([
        ['Source', layout.source],
        ['Cluster id', layout.clusterId ?? '-'],
        ['Controller epoch', layout.controllerEpoch],
        ['Znodes read', `${nodes} in ${readSeconds.toFixed(2)} s (${rate(nodes, readSeconds)}/s)`],
        ...(target === undefined
          ? []
          : ([
              [
                'Target cluster id',
                `${target.clusterId}${target.clusterIdMatches ? ' (matches)' : ' (MISMATCH)'}`,
              ],
            ] as [string, unknown][])),
      ]),
    );
    ctx.out();
    ctx.out(renderTable(['WHAT', 'COUNT'], Object.entries(counts)));
    ctx.out();
    if (all.issues.length === 0) ctx.out('No malformed znodes, nothing blocks, no warnings.');
    else ctx.out(renderTable(['SEVERITY', 'PATH', 'REASON'], issueRows(all, flags.skipMalformed === true)));
    ctx.out();
    ctx.out(
      stop.length === 0
        ? 'Ready to migrate: nothing blocks.'
        : `Blocked: ${stop.length} problem(s) must be resolved first${stop.some((s) => s.severity === 'malformed') ? ' (or run with --skip-malformed to leave the malformed ones out)' : ''}.`,
    );
  });

  sourceOptions(
    migrate
      .command('plan')
      .description('the records a run would write, summarised by type (nothing is written)')
      .option('--dry-run', 'the default: plan never writes')
      .option('--skip-malformed', 'plan without the malformed znodes')
      .option(
        '--batch-records <n>',
        'records per batch',
        intArg('--batch-records', 1),
        DEFAULT_BATCH_RECORDS,
      ),
  ).action(async (flags: SourceFlags & { skipMalformed?: boolean; batchRecords: number }) => {
    const { layout } = await loadSource(ctx, withSource(flags));
    const plan = checkedPlan(layout, flags.skipMalformed === true, flags.batchRecords);
    const result = planSummary(plan);
    if (flags.json) return ctx.out(toJson(result));
    ctx.out(
      renderKeyValues([
        ['Migration id', plan.migrationId],
        ['Source', plan.source],
        ['Cluster id', plan.clusterId],
        ['Source controller epoch', plan.zkControllerEpoch],
        ['Batches', plan.batches.length],
        ['Records', plan.recordsTotal],
        ['Topics given a new id', plan.newTopicIds.size],
      ]),
    );
    ctx.out();
    ctx.out(renderTable(['RECORD TYPE', 'COUNT'], Object.entries(plan.byType)));
    ctx.out();
    ctx.out(renderTable(['MIGRATED', 'COUNT'], Object.entries(plan.counts)));
    ctx.out();
    ctx.out('Dry run: nothing was written.');
  });

  bootstrapOption(
    sourceOptions(
      migrate
        .command('run')
        .description(
          'write the metadata into a running cluster (--bootstrap, resumable) or a fresh data dir (--data-dir)',
        )
        .option('--data-dir <dir>', 'offline: bootstrap this fresh node data dir with the migrated metadata')
        .option('--node-id <id>', 'offline: the node id of the data dir', settingArg('nodeId'))
        .option(
          '--controller-quorum <id@host:port,...>',
          'offline: the voters of the new cluster',
          settingArg('controllerQuorum'),
        )
        .option(
          '--config <file>',
          'offline: take node id, data dir and quorum from the file `start` uses (flags win)',
        )
        .option('--skip-malformed', 'leave malformed znodes out instead of refusing')
        .option(
          '--batch-records <n>',
          'records per batch',
          intArg('--batch-records', 1),
          DEFAULT_BATCH_RECORDS,
        ),
    ),
    false,
  ).action(
    async (
      flags: SourceFlags &
        TargetFlags & {
          dataDir?: string;
          nodeId?: number;
          controllerQuorum?: string;
          config?: string;
          skipMalformed?: boolean;
          batchRecords: number;
        },
    ) => {
      const offline = flags.dataDir !== undefined || flags.config !== undefined;
      if (offline === (flags.bootstrap !== undefined)) {
        throw new UsageError(
          'give the target: either --bootstrap <host:port> (a running cluster) or --data-dir <dir> (offline)',
        );
      }
      let settings: { nodeId?: number; controllerQuorum?: string; dataDir?: string } = {};
      if (offline) {
        try {
          const file = flags.config === undefined ? {} : await loadConfigFile(flags.config);
          settings = mergeSettings(file, {
            nodeId: flags.nodeId,
            controllerQuorum: flags.controllerQuorum,
            dataDir: flags.dataDir,
          });
        } catch (err) {
          if (err instanceof ConfigError) throw new UsageError(err.message);
          throw err;
        }
        if (settings.dataDir === undefined)
          throw new UsageError("required option '--data-dir <dir>' not specified");
        if (settings.nodeId === undefined) throw new UsageError("offline run needs '--node-id <id>'");
        if (settings.controllerQuorum === undefined)
          throw new UsageError("offline run needs '--controller-quorum <id@host:port,...>'");
      }
      const loaded = await loadSource(ctx, withSource(flags));
      const plan = checkedPlan(loaded.layout, flags.skipMalformed === true, flags.batchRecords);
      const start = process.hrtime.bigint();
      if (offline) {
        let r: Awaited<ReturnType<typeof bootstrapDataDir>>;
        try {
          r = await bootstrapDataDir(plan, {
            dataDir: settings.dataDir!,
            nodeId: settings.nodeId!,
            controllerQuorum: settings.controllerQuorum!,
            timestampMs: latestTime(loaded.tree),
          });
        } catch (err) {
          if (err instanceof MigrationError || err instanceof DataDirError) throw new CliError(err.message);
          throw err;
        }
        const seconds = secondsSince(start);
        const result = {
          mode: 'offline',
          ...planSummary(plan),
          dataDir: resolve(ctx.options.cwd ?? process.cwd(), r.dataDir),
          snapshotIndex: r.snapshotIndex,
          snapshotBytes: r.snapshotBytes,
          readSeconds: loaded.readSeconds,
          writeSeconds: seconds,
        };
        if (flags.json) return ctx.out(toJson(result));
        ctx.out(
          `Bootstrapped ${result.dataDir} for cluster ${plan.clusterId} node ${settings.nodeId}: ${plan.counts.topics} topics, ${plan.counts.partitions} partitions, ${plan.recordsTotal} records in a snapshot at offset ${r.snapshotIndex} (${r.snapshotBytes} bytes).`,
        );
        ctx.out(
          'Start the node with `kbroker start` (bootstrap every controller of the new cluster the same way).',
        );
        return;
      }
      const bar = progressBar(
        ctx,
        flags,
        'migrating  [{bar}] {percentage}%  batch {value}/{total}  {partitions} partitions  {rate} records/s  eta {eta}s',
      );
      let resumedRecords = 0;
      const result = await withKbroker(flags, async (client) => {
        try {
          return await runOnline(plan, client.rpc(), {
            timeoutMs: flags.timeoutMs,
            onProgress: (p) => {
              if (bar === undefined) return;
              if (p.batchesDone === 0 || bar.getTotal() === 0) {
                resumedRecords = p.recordsDone;
                bar.start(p.batchesTotal, p.batchesDone, { partitions: p.partitions, rate: 0 });
              }
              bar.update(p.batchesDone, {
                partitions: p.partitions,
                rate: rate(p.recordsDone - resumedRecords, secondsSince(start)),
              });
            },
          });
        } finally {
          bar?.stop();
        }
      });
      const seconds = secondsSince(start);
      const out = {
        mode: 'online',
        ...planSummary(plan),
        resumedAtBatch: result.resumedAt,
        batchesWritten: result.batchesWritten,
        recordsWritten: result.recordsWritten,
        alreadyMigrated: result.alreadyMigrated,
        readSeconds: loaded.readSeconds,
        readRate: rate(loaded.nodes, loaded.readSeconds),
        writeSeconds: seconds,
        writeRate: rate(result.recordsWritten, seconds),
        state: result.state,
      };
      if (flags.json) return ctx.out(toJson(out));
      ctx.out(
        renderKeyValues([
          ['Migration id', plan.migrationId],
          ['Source', plan.source],
          [
            'Batches',
            result.alreadyMigrated
              ? `all ${plan.batches.length} already applied (nothing written)`
              : `${result.batchesWritten} written${result.resumedAt > 1 ? `, resumed at batch ${result.resumedAt}` : ''} of ${plan.batches.length}`,
          ],
          ['Records written', result.recordsWritten],
          [
            'Migrated',
            Object.entries(plan.counts)
              .map(([k, v]) => `${v} ${k}`)
              .join(', '),
          ],
          ['Read', `${loaded.nodes} znodes in ${loaded.readSeconds.toFixed(2)} s (${out.readRate}/s)`],
          ['Write', `${seconds.toFixed(2)} s (${out.writeRate} records/s)`],
          ['State', result.state?.phase ?? '-'],
        ]),
      );
    },
  );

  bootstrapOption(
    sourceOptions(
      migrate
        .command('verify')
        .description(
          "compare kbroker's ZooKeeper-compatible view with the source, path by path; exits 1 on any difference",
        )
        .option('--skip-malformed', 'the run left malformed znodes out'),
    ),
    false,
  ).action(async (flags: SourceFlags & TargetFlags & { skipMalformed?: boolean }) => {
    const { layout } = await loadSource(ctx, withSource(flags));
    const plan = checkedPlan(layout, true, DEFAULT_BATCH_RECORDS);
    const start = process.hrtime.bigint();
    const report: VerifyReport = await withKbroker(flags, async (client) => {
      const status = await client.rpc().request('migrationStatus', {});
      const bar = progressBar(ctx, flags, 'verifying  {value} paths  {rate}/s');
      bar?.start(0, 0, { rate: 0 });
      try {
        return await verifyMigration(layout, plan, client.rpc(), {
          minOffset: status.offset,
          onProgress: (n) => {
            bar?.setTotal(n);
            bar?.update(n, { rate: rate(n, secondsSince(start)) });
          },
        });
      } finally {
        bar?.stop();
      }
    });
    const seconds = secondsSince(start);
    if (report.differences.length > 0) ctx.exitCode = EXIT_FAILURE;
    if (flags.json) return ctx.out(toJson({ ok: report.differences.length === 0, seconds, ...report }));
    ctx.out(
      renderKeyValues([
        ['Source', layout.source],
        ['Paths compared', `${report.paths} in ${seconds.toFixed(2)} s`],
        [
          'Controller epoch',
          `${report.kbrokerControllerEpoch ?? '-'} in kbroker, ${report.sourceControllerEpoch} in the source`,
        ],
        [
          'Brokers not registered',
          report.brokersNotRegistered.length === 0 ? 'none' : report.brokersNotRegistered.join(','),
        ],
        ['Topics only in kbroker', report.extraTopics.length === 0 ? 'none' : report.extraTopics.join(',')],
        ['Changed by kbroker since', `${report.changedSinceMigration} znodes (not compared)`],
        ['Differences', report.differences.length],
      ]),
    );
    if (report.differences.length > 0) {
      ctx.out();
      ctx.out(
        renderTable(
          ['PATH', 'DIFFERENCE'],
          report.differences.map((d) => [d.path, d.reason]),
        ),
      );
    }
    ctx.out();
    ctx.out(
      report.differences.length === 0
        ? 'Verified: kbroker matches the source on every migrated path.'
        : 'NOT verified.',
    );
  });

  bootstrapOption(
    migrate
      .command('status')
      .description('the migration state stored in the metadata (works while a run is going)')
      .option('--json', 'print JSON (for scripts)'),
    false,
  ).action(async (flags: TargetFlags & { json?: boolean }) => {
    const { state, clusterId } = await withKbroker(flags, (client) => migrationStatus(client.rpc()));
    if (flags.json) return ctx.out(toJson({ clusterId, state }));
    if (state === null) return ctx.out(`No migration: cluster ${clusterId} was not migrated from ZooKeeper.`);
    ctx.out(
      renderKeyValues([
        ['State', state.phase === 'migrated' ? 'migrated' : 'in progress'],
        ['Source', state.source],
        ['Migration id', state.migrationId],
        ['Batches', `${state.batchesDone} of ${state.batchesTotal}`],
        ['Records', `${state.recordsDone} of ${state.recordsTotal}`],
        [
          'Counts',
          Object.entries(state.counts)
            .map(([k, v]) => `${v} ${k}`)
            .join(', '),
        ],
        ['Metadata offset', state.changedOffset],
        ['Started', new Date(state.startedTimeMs).toISOString()],
        ['Last batch', `${new Date(state.changedTimeMs).toISOString()} (${ago(state.changedTimeMs)})`],
        ['Source controller epoch', state.zkControllerEpoch],
      ]),
    );
  });
}

/** Plans, refusing (nothing written) when something blocks. */
function checkedPlan(layout: KafkaLayout, skipMalformed: boolean, batchRecords: number): MigrationPlan {
  const stop = stoppers(layout, skipMalformed);
  if (stop.length > 0) {
    const first = stop[0]!;
    const malformed = stop.filter((s) => s.severity === 'malformed').length;
    throw new CliError(
      `${stop.length} problem(s) block the migration (first: ${first.path}: ${first.reason}); run \`kbroker migrate preflight\`${malformed > 0 ? ', or --skip-malformed to leave malformed znodes out' : ''}`,
    );
  }
  return planMigration(layout, batchRecords);
}

function planSummary(plan: MigrationPlan) {
  return {
    migrationId: plan.migrationId,
    source: plan.source,
    clusterId: plan.clusterId,
    sourceControllerEpoch: plan.zkControllerEpoch,
    batches: plan.batches.length,
    recordsTotal: plan.recordsTotal,
    byType: plan.byType,
    counts: plan.counts,
    newTopicIds: Object.fromEntries(plan.newTopicIds),
  };
}

/** The newest mtime of the source: the time stamped on an offline bootstrap, the same on every node. */
function latestTime(tree: SourceTree): number {
  let t = 0;
  for (const n of tree.nodes.values()) if (n.stat.mtime > t) t = n.stat.mtime;
  return t;
}
