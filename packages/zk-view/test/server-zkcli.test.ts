// The server through ZooKeeper's own Java CLI (Debian's `zookeeper` package, installed by .ci/run).
// These tests fail, not skip, when zkCli.sh is missing.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, startServer, stopServers } from './helpers/server.js';

const ZKCLI = '/usr/share/zookeeper/bin/zkCli.sh';

function zkCli(port: number, ...command: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      ZKCLI,
      ['-server', `127.0.0.1:${port}`, ...command],
      { timeout: 60_000, env: { ...process.env, ZOO_LOG4J_PROP: 'WARN,CONSOLE' } },
      (err, stdout, stderr) => {
        if (err && (err as { killed?: boolean }).killed) reject(new Error(`zkCli timed out: ${stderr}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}

/** zkCli prints a list as `[a, b, c]` on a line of its own. */
function listLine(out: string): string[] {
  const line = out
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^\[.*\]$/.test(l));
  if (line === undefined) throw new Error(`no list in zkCli output:\n${out}`);
  const inner = line.slice(1, -1).trim();
  return inner === '' ? [] : inner.split(', ');
}

/** zkCli's `stat` output as key → value (`cZxid = 0x3`). */
function statFields(out: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const l of out.split('\n')) {
    const m = /^(\w+) = (.*)$/.exec(l.trim());
    if (m) fields[m[1]!] = m[2]!;
  }
  return fields;
}

describe('zkCli.sh against the server', () => {
  let s: Running;

  beforeAll(async () => {
    if (!existsSync(ZKCLI)) {
      throw new Error(`${ZKCLI} is missing: install Debian's zookeeper package (.ci/run does)`);
    }
    s = await startServer({ chroot: '' });
  });

  afterAll(async () => {
    await stopServers();
  });

  it('ls / and ls /brokers/ids', async () => {
    const root = await zkCli(s.port, 'ls', '/');
    expect(listLine(root.stdout).sort()).toEqual([...(s.tree.current().children('/') ?? [])].sort());
    const ids = await zkCli(s.port, 'ls', '/brokers/ids');
    expect(listLine(ids.stdout).sort()).toEqual(['1', '2', '3']);
  });

  it('get prints the data; stat prints the znode stat', async () => {
    const get = await zkCli(s.port, 'get', '/brokers/ids/1');
    const json = get.stdout.split('\n').find((l) => l.startsWith('{'));
    expect(JSON.parse(json!)).toMatchObject({ version: 5, host: 'h1', port: 9092 });
    const stat = await zkCli(s.port, 'stat', '/brokers/ids/1');
    const f = statFields(stat.stdout);
    const node = s.tree.current().get('/brokers/ids/1')!;
    expect(f.cZxid).toBe(`0x${node.stat.czxid.toString(16)}`);
    expect(f.ephemeralOwner).toBe('0x101');
    expect(Number(f.dataLength)).toBe(node.stat.dataLength);
    expect(Number(f.numChildren)).toBe(0);
  });

  it('a missing znode is reported as such', async () => {
    const out = await zkCli(s.port, 'get', '/nope');
    expect(`${out.stdout}${out.stderr}`).toContain('Node does not exist: /nope');
  });

  it('writes are refused with an error, not a dropped connection', async () => {
    const out = await zkCli(s.port, 'create', '/x', 'data');
    expect(`${out.stdout}${out.stderr}`).toMatch(/Unimplemented|UNIMPLEMENTED/i);
  });
});
