/**
 * `npm run bench:migrate [-- --quick] [--topics N] [--partitions N] [--out-dir DIR]`: migrates 200,000
 * partitions (20,000 topics x 10, the ZooKeeper-era Kafka limit) from a real ZooKeeper 3.8 into a
 * 3-node kbroker cluster (separate processes) with `kbroker migrate run`, then `kbroker migrate verify`,
 * each run as the CLI a user runs (its own process, measured with /usr/bin/time for peak RSS).
 *
 * Reports read rate (znodes/s), write rate (records/s), the time of run and verify (wall, process start
 * included), and the tool's peak RSS; PASS when every partition is migrated and verified within 60 s.
 * `--quick`: 200 topics x 10 = 2,000 partitions. Writes bench/results/migrate-<timestamp>.json and
 * migrate-latest.json. Exits 0 whether or not the target is met (1 when something fails outright).
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, type as osType, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startKbroker, startZooKeeper, zookeeperUnavailable } from '@kbroker/zk-view/testing';
import { writeKafkaFixture } from './zk-fixture.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const BIN = join(repoRoot, 'packages', 'broker', 'bin', 'kbroker.js');
const TARGET_SECONDS = 60;
const TARGET_PARTITIONS = 200_000;
const CLUSTER_ID = 'MigrateBenchCluster001';

const progress = (msg: string) => process.stderr.write(`[migrate-bench] ${msg}\n`);
const round1 = (v: number) => Math.round(v * 10) / 10;

interface ToolRun {
  readonly seconds: number;
  readonly maxRssBytes: number;
  readonly json: Record<string, unknown>;
}

/** Runs `kbroker <args>` under /usr/bin/time; parses its --json stdout and its peak RSS. */
function tool(args: readonly string[]): Promise<ToolRun> {
  return new Promise((resolvePromise, reject) => {
    const start = process.hrtime.bigint();
    // MIGRATE_TOOL_NODE_ARGS: extra node flags for the tool, e.g. to profile it (--cpu-prof).
    const nodeArgs = (process.env.MIGRATE_TOOL_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const argv = ['-f', 'MAXRSS_KB %M', process.execPath, ...nodeArgs, BIN, ...args];
    const child = spawn('/usr/bin/time', argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    child.stderr.on('data', (d) => {
      err += String(d);
    });
    child.once('error', reject);
    child.once('exit', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const rss = /MAXRSS_KB (\d+)/.exec(err);
      try {
        resolvePromise({ seconds, maxRssBytes: rss ? Number(rss[1]) * 1024 : -1, json: JSON.parse(out) });
      } catch {
        reject(new Error(`kbroker ${args.slice(0, 2).join(' ')} failed:\n${err.slice(-2000)}`));
      }
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      topics: { type: 'string' },
      partitions: { type: 'string' },
      'out-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: migrate-bench [--quick] [--topics N] [--partitions N] [--out-dir DIR]\n');
    return;
  }
  const why = zookeeperUnavailable();
  if (why !== undefined) throw new Error(`cannot run: ${why}`);
  const topics = Number(values.topics ?? (values.quick ? 200 : 20_000));
  const perTopic = Number(values.partitions ?? 10);
  const partitions = topics * perTopic;
  const outDir = resolve(values['out-dir'] ?? join(repoRoot, 'bench', 'results'));
  const startedAt = new Date();

  progress('starting ZooKeeper');
  const zk = await startZooKeeper(1);
  let kb: Awaited<ReturnType<typeof startKbroker>> | undefined;
  try {
    const source = `${zk.servers[0]}/kafka`;
    progress(`filling ZooKeeper with ${topics} topics x ${perTopic} partitions`);
    const fillStart = process.hrtime.bigint();
    await writeKafkaFixture(source, {
      clusterId: CLUSTER_ID,
      controllerEpoch: 42,
      topics,
      partitionsOf: () => perTopic,
      groups: 5,
      epochBumps: false,
    });
    const fillSeconds = Number(process.hrtime.bigint() - fillStart) / 1e9;
    progress(`filled in ${fillSeconds.toFixed(1)} s; starting 3 kbroker nodes`);
    kb = await startKbroker(3, 60_000, CLUSTER_ID);
    const bootstrap = kb.brokers.join(',');

    progress('kbroker migrate run');
    const run = await tool(['migrate', 'run', '--zookeeper', source, '--bootstrap', bootstrap, '--json']);
    const rj = run.json as { readSeconds: number; readRate: number; writeSeconds: number; writeRate: number };
    progress(
      `run took ${run.seconds.toFixed(1)} s (read ${rj.readSeconds.toFixed(1)} s at ${rj.readRate}/s, write ${rj.writeSeconds.toFixed(1)} s at ${rj.writeRate} records/s); kbroker migrate verify`,
    );
    const verify = await tool([
      'migrate',
      'verify',
      '--zookeeper',
      source,
      '--bootstrap',
      bootstrap,
      '--json',
    ]);
    const r = run.json as {
      counts: { partitions: number };
      recordsWritten: number;
      readSeconds: number;
      readRate: number;
      writeSeconds: number;
      writeRate: number;
    };
    const v = verify.json as { ok: boolean; paths: number; seconds: number; differences: unknown[] };
    const totalSeconds = run.seconds + verify.seconds;
    const pass = r.counts.partitions === partitions && v.ok && totalSeconds <= TARGET_SECONDS;
    const report = {
      benchmark: 'migrate',
      timestamp: startedAt.toISOString(),
      machine: {
        cpus: { model: cpus()[0]?.model ?? 'unknown', count: cpus().length },
        totalMemoryBytes: totalmem(),
        node: process.version,
        os: `${osType()} ${release()}`,
      },
      config: { quick: values.quick, topics, partitionsPerTopic: perTopic, partitions, kbrokerNodes: 3 },
      results: {
        fillSeconds: round1(fillSeconds),
        run: {
          seconds: round1(run.seconds),
          readSeconds: round1(r.readSeconds),
          readRateZnodesPerSec: r.readRate,
          writeSeconds: round1(r.writeSeconds),
          writeRateRecordsPerSec: r.writeRate,
          recordsWritten: r.recordsWritten,
          partitionsMigrated: r.counts.partitions,
          peakRssBytes: run.maxRssBytes,
        },
        verify: {
          seconds: round1(verify.seconds),
          pathsCompared: v.paths,
          differences: v.differences.length,
          peakRssBytes: verify.maxRssBytes,
        },
        totalSeconds: round1(totalSeconds),
      },
      targets: [
        {
          name: `${TARGET_PARTITIONS} partitions migrated and verified (s)`,
          target: `<= ${TARGET_SECONDS}`,
          actual: round1(totalSeconds),
          pass,
          applies: partitions >= TARGET_PARTITIONS,
        },
      ],
    };
    await mkdir(outDir, { recursive: true });
    const json = `${JSON.stringify(report, null, 2)}\n`;
    await writeFile(join(outDir, `migrate-${startedAt.toISOString().replace(/:/g, '-')}.json`), json);
    await writeFile(join(outDir, 'migrate-latest.json'), json);
    const mb = (b: number) => `${Math.round(b / (1024 * 1024))} MiB`;
    const lines = [
      `Migration benchmark  ${report.timestamp}  ${report.machine.cpus.count} x ${report.machine.cpus.model}, node ${process.version}`,
      `source: real ZooKeeper 3.8 (chroot /kafka), ${topics} topics x ${perTopic} = ${partitions} partitions; target: 3 kbroker processes`,
      '',
      `fill ZooKeeper (setup)   ${fillSeconds.toFixed(1)} s`,
      `read source              ${r.readSeconds.toFixed(1)} s   ${r.readRate} znodes/s`,
      `write through controller ${r.writeSeconds.toFixed(1)} s   ${r.writeRate} records/s (${r.recordsWritten} records)`,
      `migrate run (wall)       ${run.seconds.toFixed(1)} s   peak RSS ${mb(run.maxRssBytes)}`,
      `migrate verify (wall)    ${verify.seconds.toFixed(1)} s   ${v.paths} paths, ${v.differences.length} differences, peak RSS ${mb(verify.maxRssBytes)}`,
      `total run + verify       ${totalSeconds.toFixed(1)} s   target <= ${TARGET_SECONDS} s for ${TARGET_PARTITIONS} partitions: ${
        partitions >= TARGET_PARTITIONS
          ? pass
            ? 'PASS'
            : 'MISS'
          : `${pass ? 'PASS' : 'MISS'} (quick run, target applies to the full size)`
      }`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await kb?.stop();
    await zk.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`[migrate-bench] ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
