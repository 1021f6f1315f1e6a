/**
 * Every `kbroker` command given invalid flags, values and files: one clear `kbroker: ...` line on
 * stderr, a non-zero exit, and nothing written (a data dir that did not exist still does not; a
 * formatted one is byte for byte the same). Nothing here reaches a network: a command that would have
 * to connect to fail is not a case.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StartNodeFn } from '../src/cli/context.js';
import { runCli } from './helpers/cli.js';

let root: string;
let formatted: string;
let fresh: string;
const files: Record<string, string> = {};

/** Every file under `dir` with its contents: what "nothing written" compares. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    out[path] = entry.isFile() ? (await readFile(path)).toString('base64') : 'dir';
  }
  return out;
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** The node runtime must never be reached by these cases. */
const startNode: StartNodeFn = () => {
  throw new Error('startNode reached: the command line should have been refused first');
};

/** Runs `kbroker <args>`: a non-zero exit, one short `kbroker: ...` line, no data dir created. */
async function expectRefused(args: string[]): Promise<void> {
  const r = await runCli(args, { startNode });
  const what = args.join(' ');
  expect(r.code, `${what}\n${r.stderr}`).not.toBe(0);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, what).toHaveLength(1);
  expect(lines[0], what).toMatch(/^kbroker: \S/);
  expect(lines[0]!.length, what).toBeLessThan(400);
  expect(await exists(fresh), `${what} created the data dir`).toBe(false);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kbroker-cli-hostile-'));
  formatted = join(root, 'formatted');
  fresh = join(root, 'never-created');
  const r = await runCli(['format', '--cluster-id', 'cluster-a', '--node-id', '1', '--data-dir', formatted]);
  expect(r.code, r.stderr).toBe(0);
  const write = async (name: string, text: string | Buffer) => {
    files[name] = join(root, name);
    await writeFile(files[name]!, text);
  };
  await write('corrupt.json', '{"nodeId": 1,');
  await write('unknown-key.properties', 'node.id=1\nflux.capacitor=on\n');
  await write('bad-value.json', '{"listener": "no-port"}');
  await write('binary.conf', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x3d, 0x0a]));
  await write(
    'not-a-cert.pem',
    '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n',
  );
  await write('users-corrupt.json', '[{"name": "alice", "scram": "scram-sha-256:1:x:y:z"}]');
  await write('users-not-json.json', 'alice:secret');
  await write('snapshot.bin', Buffer.from('this is not a snapshot'));
  await write('empty-password', '\n');
  files.dir = root;
  files.missing = join(root, 'no-such-file');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('every command refuses bad input with one line, a non-zero exit, and no writes', () => {
  it('start and format', async () => {
    const before = await tree(formatted);
    const d = () => ['--data-dir', fresh];
    const cases: string[][] = [
      ['--bogus-flag', ...d()],
      ['start', '--node-id', '0', '--controller-quorum', '1@127.0.0.1:9093', ...d()],
      ['start', '--node-id', 'abc', ...d()],
      ['start', '--node-id', '1', '--controller-quorum', 'nonsense', ...d()],
      ['start', '--node-id', '1', '--controller-quorum', '1@127.0.0.1:99999', ...d()],
      ['start', '--node-id', '1', ...d()],
      ['start', '--listener', 'no-port', ...d()],
      ['start', '--http-listener', ':80', ...d()],
      ['start', '--zookeeper-listener', 'host:port', ...d()],
      ['start', '--zookeeper-chroot', 'relative', ...d()],
      ['start', '--roles', 'leader', ...d()],
      ['start', '--session-timeout-ms', '-5', ...d()],
      ['start', '--config', files.missing!, ...d()],
      ['start', '--config', files.dir!, ...d()],
      ['start', '--config', files['corrupt.json']!, ...d()],
      ['start', '--config', files['unknown-key.properties']!, ...d()],
      ['start', '--config', files['bad-value.json']!, ...d()],
      ['start', '--config', files['binary.conf']!, ...d()],
      ['start', '--tls-cert', files.missing!, '--tls-key', files.missing!, ...d()],
      ['start', '--tls-cert', files['not-a-cert.pem']!, ...d()],
      ['start', '--tls-cert', files['not-a-cert.pem']!, '--tls-key', files['not-a-cert.pem']!, ...d()],
      ['start', '--tls-ca', files['not-a-cert.pem']!, ...d()],
      ['start', '--tls-listeners', 'ftp', ...d()],
      ['start', '--tls-client-auth', 'maybe', ...d()],
      ['start', '--users-file', files.missing!, ...d()],
      ['start', '--users-file', files['users-corrupt.json']!, ...d()],
      ['start', '--users-file', files['users-not-json.json']!, ...d()],
      ['start', '--unauthenticated-access', 'everything', ...d()],
      ['start', '--inter-node-user', 'node', ...d()],
      ['start', 'stray-argument', ...d()],
      // A data dir formatted for another cluster, or for another node.
      [
        'start',
        '--node-id',
        '1',
        '--controller-quorum',
        '1@127.0.0.1:9093',
        '--cluster-id',
        'cluster-b',
        '--data-dir',
        formatted,
      ],
      ['start', '--node-id', '2', '--controller-quorum', '2@127.0.0.1:9093', '--data-dir', formatted],
      ['format', '--cluster-id', 'cluster-b', '--node-id', '1', '--data-dir', formatted],
      ['format', '--cluster-id', 'has space', '--node-id', '1', ...d()],
      ['format', '--cluster-id', 'c', '--node-id', '-1', ...d()],
      ['format', '--node-id', '1', ...d()],
      ['format', '--cluster-id', 'c', '--node-id', '1', '--config', files['corrupt.json']!, ...d()],
      ['format', '--cluster-id', 'c', '--node-id', '1', '--data-dir', files['corrupt.json']!],
      ['random-cluster-id', '--bogus'],
    ];
    for (const args of cases) await expectRefused(args);
    expect(await tree(formatted)).toEqual(before);
  });

  it('admin, shell, dev and credential commands', async () => {
    // (A command group alone, `kbroker topics`, prints its help: that is not an error line.)
    const cases: string[][] = [
      ['topics', 'frobnicate'],
      ['topics', 'create', '--topic', 't', '--partitions', 'x', '--replication-factor', '1'],
      [
        'topics',
        'create',
        '--topic',
        't',
        '--partitions',
        '1',
        '--replication-factor',
        '1',
        '--bootstrap',
        'h:0:1',
      ],
      ['topics', 'list', '--timeout-ms', '0'],
      ['topics', 'list', '--tls-ca', files.missing!],
      ['topics', 'list', '--tls-cert', files['not-a-cert.pem']!],
      ['topics', 'list', '--user', 'alice', '--password-file', files.missing!],
      ['topics', 'list', '--password-file', files['empty-password']!],
      ['topics', 'delete'],
      ['topics', 'describe', '--bogus'],
      ['configs', 'set', '--entity-type', 'topics'],
      ['configs', 'describe', '--entity-type', 'users'],
      ['quorum', 'add-voter', '--node-id', 'zero'],
      ['quorum', 'remove-voter', '--node-id', '-3'],
      ['offsets', 'commit', '--group', 'g', '--topic', 't', '--partition', '0', '--offset', 'many'],
      ['leaders', 'elect', '--type', 'sideways'],
      ['cluster', 'describe', '--bootstrap', ''],
      ['metadata-shell', '--snapshot', files.missing!, 'ls', '/'],
      ['metadata-shell', '--snapshot', files['snapshot.bin']!, 'ls', '/'],
      ['metadata-shell', '--snapshot', files.dir!, 'ls', '/'],
      ['dev', '--nodes', '0', '--data-dir', fresh],
      ['dev', '--base-port', '70000', '--data-dir', fresh],
      ['credential'],
      ['credential', '--user', 'bad name'],
      ['credential', '--user', 'alice', '--permission', 'root', '--password-file', files['empty-password']!],
      ['credential', '--user', 'alice', '--password-file', files.missing!],
      ['credential', '--user', 'alice', '--password-file', files['empty-password']!],
      ['credential', '--user', 'alice', '--iterations', '10', '--password-file', files['empty-password']!],
    ];
    for (const args of cases) await expectRefused(args);
  });
});
