/**
 * `npm run fuzz:sockets -- --inputs 100000 [--seed 1] [--concurrency 16] [--listeners client,zookeeper] [--secure]`:
 * starts a single `kbroker` node, fuzzes each listener with that many inputs, and prints a JSON report
 * (inputs, connections and seconds per listener, RSS before and after, the well-behaved checks). Exits
 * 1 when the node died, a check failed, it logged an error, or RSS grew by more than --max-rss-growth-mb.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Kbroker } from '@kbroker/client';
import { formatScramCredential, scramCredential } from '@kbroker/client/scram';
import { FUZZ_LISTENERS, fuzzNode, type ListenerName, startFuzzNode } from './socket-fuzz.js';

const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '16' },
    listeners: { type: 'string', default: FUZZ_LISTENERS.join(',') },
    'max-rss-growth-mb': { type: 'string', default: '256' },
    /** Users configured (authentication on): the well-behaved client authenticates with SCRAM. */
    secure: { type: 'boolean', default: false },
  },
});
const inputs = Number(values.inputs);
const listeners = values.listeners!.split(',') as ListenerName[];
if (!Number.isSafeInteger(inputs) || inputs < 1 || listeners.some((l) => !FUZZ_LISTENERS.includes(l))) {
  process.stderr.write(
    `fuzz:sockets: --inputs must be a positive integer, --listeners among ${FUZZ_LISTENERS.join(',')}\n`,
  );
  process.exit(2);
}

const bin = fileURLToPath(new URL('../../bin/kbroker.js', import.meta.url));
const dir = await mkdtemp(join(tmpdir(), 'kbroker-fuzz-'));
const password = 'fuzz-admin-password';
const extra: string[] = [];
if (values.secure) {
  const usersFile = join(dir, 'users.json');
  await writeFile(
    usersFile,
    JSON.stringify([
      { name: 'admin', permission: 'admin', scram: formatScramCredential(scramCredential(password)) },
    ]),
  );
  extra.push('--users-file', usersFile, '--unauthenticated-access', 'metadata');
}
const node = await startFuzzNode(bin, join(dir, 'data'), 'fuzz-cluster', extra);
const client = new Kbroker({
  brokers: [`127.0.0.1:${node.addresses.client.port}`],
  clusterId: node.clusterId,
  retry: { retries: 3 },
  ...(values.secure ? { sasl: { username: 'admin', password } } : {}),
});
let round = 0;
try {
  const report = await fuzzNode(node, inputs, {
    seed: Number(values.seed),
    concurrency: Number(values.concurrency),
    listeners,
    wellBehaved: async () => {
      const topic = `well-behaved-${round++}`;
      await client.admin().createTopics({ topics: [{ topic, numPartitions: 1 }] });
      const topics = await client.admin().listTopics();
      return topics.includes(topic) ? 'ok' : `topic ${topic} missing`;
    },
    onProgress: (r) =>
      process.stderr.write(
        `${r.listener}: ${r.inputs} inputs, ${r.connections} connections, ${r.seconds.toFixed(1)} s\n`,
      ),
  });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  const growthMb = (report.rssAfterBytes - report.rssBeforeBytes) / 1024 / 1024;
  const ok =
    report.alive &&
    report.checks.client === 'ok' &&
    report.checks.quorum === 'welcome' &&
    report.checks.zookeeper === 'imok' &&
    report.checks.http === '200' &&
    report.errors.length === 0 &&
    growthMb <= Number(values['max-rss-growth-mb']);
  process.exitCode = ok ? 0 : 1;
} catch (err) {
  process.stderr.write(`fuzz:sockets: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await client.disconnect().catch(() => {});
  await node.stop();
  await rm(dir, { recursive: true, force: true });
}
