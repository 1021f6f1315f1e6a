/**
 * Helpers shared by the ZooKeeper benchmarks (bench:zk, bench:vs-zookeeper): latency histograms
 * (hdr-histogram-js, µs), the topic set both fill kbroker with, copying kbroker's znode tree into a
 * real ZooKeeper, plain-text tables, the machine description and the results files.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, type as osType, release, totalmem } from 'node:os';
import { join } from 'node:path';
import hdr from 'hdr-histogram-js';
import type { BenchAdmin } from './kbroker-procs.js';
import { connectClient, connectWithRetry, createAll, getChildren, getData, pool } from './zk-client.js';

export interface System {
  readonly name: string;
  readonly servers: readonly string[];
}

export function histogram() {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
    useWebAssembly: false,
  });
}
export type Histogram = ReturnType<typeof histogram>;

export interface Latency {
  count: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
}
export const ms = (us: number) => Number((us / 1000).toFixed(3));
export function summarise(h: Histogram): Latency {
  return {
    count: h.totalCount,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue),
    meanMs: ms(h.mean),
  };
}

export const topicName = (i: number) => `bench-${String(i).padStart(5, '0')}`;

/** Creates `opts.topics` topics of `opts.partitions` partitions (RF 3) through the admin client, in batches of 100. */
export async function createTopics(
  admin: BenchAdmin,
  opts: { topics: number; partitions: number },
  log: (msg: string) => void,
): Promise<number> {
  const t0 = performance.now();
  const batch = 100;
  const batches: number[] = [];
  for (let i = 0; i < opts.topics; i += batch) batches.push(i);
  let done = 0;
  await pool(batches, 2, async (start) => {
    const topics = [];
    for (let i = start; i < Math.min(start + batch, opts.topics); i++)
      topics.push({ topic: topicName(i), numPartitions: opts.partitions, replicationFactor: 3 });
    // A loaded machine may see a controller election mid-run: a batch that failed is sent again
    // (creating what exists already is refused per topic, not as a whole).
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.createTopics({ topics, waitForLeaders: false, timeout: 60_000 });
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        log(`  topics ${start}..: ${(err as Error).message}; retrying`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    done += topics.length;
    if (done % 2000 < batch) log(`  ${done}/${opts.topics} topics created`);
  });
  return performance.now() - t0;
}

/** Waits until every server of `sys` shows every topic with the state of its last partition. */
export async function waitForTopics(
  sys: System,
  opts: { topics: number; partitions: number },
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const last = `/brokers/topics/${topicName(opts.topics - 1)}/partitions/${opts.partitions - 1}/state`;
  await Promise.all(
    sys.servers.map(async (s) => {
      const c = await connectWithRetry(s);
      try {
        for (;;) {
          const n = (await getChildren(c, '/brokers/topics').catch(() => [])).length;
          const ok =
            n >= opts.topics &&
            (await getData(c, last).then(
              () => true,
              () => false,
            ));
          if (ok) return;
          if (Date.now() > deadline)
            throw new Error(`${s}: ${n}/${opts.topics} topics after ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        c.close();
      }
    }),
  );
}

export interface Znode {
  readonly path: string;
  readonly data: Buffer | null;
  readonly depth: number;
}

const join2 = (parent: string, child: string) => (parent === '/' ? `/${child}` : `${parent}/${child}`);

/** Every znode of the tree at `server` but / and /zookeeper, parents before children. */
export async function readTree(server: string): Promise<Znode[]> {
  const clients = await Promise.all(Array.from({ length: 4 }, () => connectClient(server)));
  try {
    const out: Znode[] = [];
    let level = (await getChildren(clients[0]!, '/')).filter((c) => c !== 'zookeeper').map((c) => `/${c}`);
    let depth = 1;
    let k = 0;
    while (level.length > 0) {
      const next: string[] = [];
      const nodes: Znode[] = [];
      await pool(level, 512, async (path) => {
        const c = clients[k++ % clients.length]!;
        const [data, children] = await Promise.all([getData(c, path), getChildren(c, path)]);
        nodes.push({ path, data, depth });
        for (const child of children) next.push(join2(path, child));
      });
      out.push(...nodes);
      level = next;
      depth++;
    }
    return out;
  } finally {
    for (const c of clients) c.close();
  }
}

/**
 * Writes `tree` into the ZooKeeper servers of `sys`, level by level (a level's parents all exist), as
 * multi transactions of up to 500 creates, 8 in flight on each server's connection: a 230,000-znode
 * tree in seconds rather than one round trip per znode.
 */
export async function writeTree(sys: System, tree: readonly Znode[]): Promise<number> {
  const t0 = performance.now();
  const clients = await Promise.all(sys.servers.map((s) => connectClient(s)));
  try {
    const levels: Znode[][] = [];
    for (const z of tree) {
      levels[z.depth] ??= [];
      levels[z.depth]!.push(z);
    }
    let k = 0;
    for (const level of levels) {
      if (level === undefined) continue;
      const chunks: Znode[][] = [];
      for (let i = 0; i < level.length; i += 500) chunks.push(level.slice(i, i + 500));
      await pool(chunks, 8 * clients.length, (chunk) =>
        createAll(
          clients[k++ % clients.length]!,
          chunk.map((z) => [z.path, z.data]),
        ),
      );
    }
  } finally {
    for (const c of clients) c.close();
  }
  return performance.now() - t0;
}

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : '-');

/** A command-line option that must be a positive integer (`dflt` when not given). */
export function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

/** A plain-text table: the first column left-aligned, the others right-aligned. */
export function renderTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

/** The machine a result was measured on (java -version prints to stderr). */
export function machine() {
  let java: string | undefined;
  try {
    java = execFileSync('sh', ['-c', 'java -version 2>&1'], { encoding: 'utf8' }).split('\n')[0]?.trim();
  } catch {
    java = undefined;
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryBytes: totalmem(),
    os: `${osType()} ${release()}`,
    node: process.version,
    java,
    loadAverage: loadavg().map((x) => Number(x.toFixed(2))),
  };
}

/** Writes `<name>-<date>.json` and `<name>-latest.json` into `outDir`; returns the first's path. */
export async function writeResults(outDir: string, name: string, result: { date: string }): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const stamped = join(outDir, `${name}-${result.date.replace(/:/g, '-')}.json`);
  await writeFile(stamped, `${JSON.stringify(result, null, 2)}\n`);
  await copyFile(stamped, join(outDir, `${name}-latest.json`));
  return stamped;
}
