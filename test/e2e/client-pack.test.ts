/**
 * @kbroker/client as a user gets it: `npm pack` of the client and of @kbroker/wire (its unpublished
 * dependency), both tarballs installed into a scratch ESM project outside the monorepo, and a plain
 * `node app.mjs` that imports `@kbroker/client` and works against a cluster started by this test. Also
 * checks what the tarball holds and that its types resolve under `moduleResolution: nodenext`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type InProcessCluster, startCluster } from '@kbroker/broker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command without blocking the event loop (the in-process cluster must keep serving). */
function run(cmd: string, args: readonly string[], cwd: string, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child: ChildProcess = spawn(cmd, args, {
      cwd,
      env: { ...process.env, NO_UPDATE_NOTIFIER: '1', npm_config_update_notifier: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

async function ok(cmd: string, args: readonly string[], cwd: string): Promise<string> {
  const r = await run(cmd, args, cwd);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

interface PackResult {
  readonly name: string;
  readonly filename: string;
  readonly files: readonly { path: string }[];
}

const APP = `import { Kbroker, KbrokerError, UnknownTopicOrPartitionError } from '@kbroker/client';

const brokers = process.argv.slice(2);
const kbroker = new Kbroker({ brokers, clientId: 'packed-app' });
const admin = kbroker.admin();
const created = await admin.createTopics({ topics: [{ topic: 'packed', numPartitions: 3 }] });
const { topics } = await admin.describeTopics({ topics: ['packed'] });
await kbroker.offsets().commit('packed-group', [
  { topic: 'packed', partition: 0, offset: 42, metadata: 'from the tarball' },
  { topic: 'packed', partition: 2, offset: '7' },
]);
const fetched = await kbroker.offsets().fetch('packed-group', ['packed']);
let unknown = null;
try {
  await admin.describeTopics({ topics: ['missing'] });
} catch (err) {
  unknown = {
    typed: err instanceof UnknownTopicOrPartitionError && err instanceof KbrokerError,
    code: err.code,
  };
}
const cluster = await admin.describeCluster();
await kbroker.disconnect();
console.log(
  JSON.stringify({
    resolved: import.meta.resolve('@kbroker/client'),
    created,
    topic: topics[0].name,
    partitions: topics[0].partitions.map((p) => ({ id: p.partitionId, leader: p.leader })),
    offsets: fetched
      .map((o) => ({ partition: o.partition, offset: o.offset, metadata: o.metadata }))
      .sort((a, b) => a.partition - b.partition),
    unknown,
    brokers: cluster.brokers.length,
  }),
);
`;

const TYPES = `import { Kbroker, KbrokerError, type MetadataEvent, type TopicMetadata } from '@kbroker/client';
import { PROTOCOL_VERSION } from '@kbroker/client/protocol';

const kbroker = new Kbroker({ brokers: ['127.0.0.1:9092'], retry: { retries: 3 } });
// @ts-expect-error brokers is a list of host:port strings (proves the types are not any)
new Kbroker({ brokers: 9092 });

export async function main(): Promise<number> {
  const { topics }: { topics: TopicMetadata[] } = await kbroker.admin().describeTopics();
  const leader: number | undefined = topics[0]?.partitions[0]?.leader;
  const watch = kbroker.metadata().watch({ fromOffset: 0 });
  for await (const event of watch) {
    const e: MetadataEvent = event;
    if (e.type === 'topic-created') return e.partitions + (leader ?? 0) + PROTOCOL_VERSION;
  }
  return watch.offset;
}

main().catch((err: unknown) => {
  if (err instanceof KbrokerError) console.log(err.code, err.retriable);
});
`;

let work: string;
let app: string;
let cluster: InProcessCluster | undefined;
let packed: PackResult[];

beforeAll(async () => {
  // The tarballs ship dist: build them first (a no-op when `npm test` just did; `npm pack` builds
  // them again through `prepack`). Only the client and what it references, not the whole monorepo.
  await ok(process.execPath, [TSC, '-b', 'packages/client'], ROOT);
  work = await mkdtemp(join(tmpdir(), 'kbroker-pack-'));
  packed = JSON.parse(
    await ok(
      'npm',
      ['pack', '--json', '--pack-destination', work, './packages/wire', './packages/client'],
      ROOT,
    ),
  ) as PackResult[];
  app = join(work, 'app');
  await ok('mkdir', ['-p', app], work);
  await writeFile(
    join(app, 'package.json'),
    `${JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }, null, 2)}\n`,
  );
  const tarballs = packed.map((p) => join(work, p.filename));
  // msgpackr comes from the npm cache when it has it, else the registry.
  // A TypeScript user of a Node.js library has Node's types: the client's declarations use them.
  await ok(
    'npm',
    ['install', ...tarballs, '@types/node@^20', '--no-audit', '--no-fund', '--prefer-offline'],
    app,
  );
}, 240_000);

afterAll(async () => {
  await cluster?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('the packed client', () => {
  it('ships dist with entry points and types, no sources, tests or benchmarks', () => {
    const client = packed.find((p) => p.name === '@kbroker/client');
    const wire = packed.find((p) => p.name === '@kbroker/wire');
    expect(client).toBeDefined();
    expect(wire).toBeDefined();
    const files = client!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts']));
    expect(files).toEqual(expect.arrayContaining(['dist/protocol.js', 'dist/protocol.d.ts']));
    for (const f of [...files, ...wire!.files.map((x) => x.path)]) {
      expect(f).not.toMatch(/^(src|test)\/|\.test\.|^dist\/bench\/|tsbuildinfo|\.map$/);
    }
    expect(wire!.files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['dist/frame.js', 'dist/frame.d.ts']),
    );
  });

  it('installs into a scratch project whose plain node script uses it against a cluster', async () => {
    const installed = JSON.parse(
      await readFile(join(app, 'node_modules/@kbroker/client/package.json'), 'utf8'),
    ) as { name: string; main: string; types: string };
    expect(installed.name).toBe('@kbroker/client');
    await writeFile(join(app, 'app.mjs'), APP);
    cluster = await startCluster({ nodes: 3 });
    const r = await run(process.execPath, ['app.mjs', ...cluster.brokers], app, 60_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as {
      resolved: string;
      created: boolean;
      topic: string;
      partitions: { id: number; leader: number }[];
      offsets: { partition: number; offset: number; metadata: string }[];
      unknown: { typed: boolean; code: string } | null;
      brokers: number;
    };
    // The installed copy, not the workspace's.
    expect(fileURLToPath(out.resolved)).toBe(join(app, 'node_modules/@kbroker/client/dist/index.js'));
    expect(out.created).toBe(true);
    expect(out.topic).toBe('packed');
    expect(out.partitions.map((p) => p.id)).toEqual([0, 1, 2]);
    expect(out.partitions.every((p) => p.leader > 0)).toBe(true);
    expect(out.offsets).toEqual([
      { partition: 0, offset: 42, metadata: 'from the tarball' },
      { partition: 2, offset: 7, metadata: '' },
    ]);
    expect(out.unknown).toEqual({ typed: true, code: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(out.brokers).toBe(3);
  });

  it('has types that resolve under moduleResolution nodenext', async () => {
    await writeFile(join(app, 'check.ts'), TYPES);
    await writeFile(
      join(app, 'tsconfig.json'),
      `${JSON.stringify(
        {
          compilerOptions: {
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2022',
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: ['node'],
          },
          files: ['check.ts'],
        },
        null,
        2,
      )}\n`,
    );
    const r = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], app);
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.code).toBe(0);
  });
});
