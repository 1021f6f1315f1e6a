/**
 * Every benchmark keeps working: `npm run bench -- --quick` (each `bench:*` script at small sizes,
 * kbroker and ZooKeeper processes included) exits 0, each benchmark writes its JSON, and the report
 * generator turns those results into the Markdown page and SVG charts. No assertion on the numbers.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const out = mkdtempSync(join(tmpdir(), 'bench-quick-'));
const docs = mkdtempSync(join(tmpdir(), 'bench-quick-docs-'));

afterAll(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(docs, { recursive: true, force: true });
});

function run(cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr = (stderr + String(d)).slice(-20_000);
    });
    child.on('exit', (code) => done({ code, stderr }));
  });
}

const benches = Object.keys(
  (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts,
)
  .filter((n) => n.startsWith('bench:'))
  .map((n) => n.slice('bench:'.length));

describe('npm run bench -- --quick', () => {
  it('runs every benchmark, each writes its results, and the report is generated from them', async () => {
    expect(benches).toEqual(expect.arrayContaining(['raft', 'zk', 'migrate', 'vs-zookeeper']));
    const r = await run('node', ['scripts/bench.mjs', '--quick', '--out-dir', out]);
    expect(r.code, r.stderr).toBe(0);
    for (const b of benches) {
      expect(r.stderr).toContain(`bench:${b}: done`);
      const json = JSON.parse(readFileSync(join(out, `${b}-latest.json`), 'utf8')) as object;
      expect(json).toBeTypeOf('object');
    }
    // The quick run leaves docs/ alone; the report is made on demand from any results dir.
    const rep = await run('node', ['scripts/bench-report.mjs', '--results', out, '--docs', docs]);
    expect(rep.code, rep.stderr).toBe(0);
    const md = readFileSync(join(docs, 'benchmarks.md'), 'utf8');
    for (const b of benches) expect(md).toContain(`npm run bench:${b}`);
    for (const svg of ['vs-zookeeper-offset-commit-throughput.svg', 'vs-zookeeper-failover.svg'])
      expect(existsSync(join(docs, 'benchmarks', svg)), svg).toBe(true);
  }, 900_000);
});
