#!/usr/bin/env node
// Runs every `bench:*` script of the root package.json in order, passing the other arguments through,
// then writes docs/benchmarks.md (and docs/benchmarks/*.svg) from the results.
//
//   npm run bench [-- --quick] [--only raft,zk,...] [--no-report] [--report-only] [--out-dir DIR] [...bench args]
//
// A full run writes its results to bench/results/ and regenerates the report. `--quick` (smoke run,
// as CI does) writes to bench/results/quick/ and leaves the report alone, so the report's numbers
// always come from full runs. `--report-only` regenerates the report from bench/results/ without
// running anything. Each benchmark's stdout is kept as <out-dir>/<name>-stdout.txt for the report.
// Stops at the first benchmark that fails.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReport } from './bench-report.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const argv = process.argv.slice(2);
const take = (flag) => {
  const i = argv.indexOf(flag);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  argv.splice(i, 2);
  return v;
};
const has = (flag) => {
  const i = argv.indexOf(flag);
  if (i >= 0) argv.splice(i, 1);
  return i >= 0;
};
const quick = argv.includes('--quick');
const only = take('--only')?.split(',');
const noReport = has('--no-report');
const reportOnly = has('--report-only');
const outDir = resolve(take('--out-dir') ?? join(root, 'bench', 'results', ...(quick ? ['quick'] : [])));

const names = Object.keys(pkg.scripts)
  .filter((n) => n.startsWith('bench:'))
  .filter((n) => only === undefined || only.includes(n.slice('bench:'.length)));

const seconds = (t0) => ((performance.now() - t0) / 1000).toFixed(1);

function run(name) {
  return new Promise((resolveRun) => {
    const stdout = createWriteStream(join(outDir, `${name.slice('bench:'.length)}-stdout.txt`));
    const child = spawn('npm', ['run', '--silent', name, '--', ...argv, '--out-dir', outDir], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      stdout.write(d);
    });
    child.on('exit', (code, signal) => stdout.end(() => resolveRun(code ?? (signal ? 1 : 0))));
  });
}

if (!reportOnly) {
  mkdirSync(outDir, { recursive: true });
  const started = performance.now();
  for (const [i, name] of names.entries()) {
    const t0 = performance.now();
    process.stderr.write(`\n[bench ${i + 1}/${names.length}] ${name} ${argv.join(' ')}: started\n`);
    const status = await run(name);
    process.stderr.write(
      `[bench ${i + 1}/${names.length}] ${name}: ${status === 0 ? 'done' : `FAILED (exit ${status})`} in ${seconds(t0)} s\n`,
    );
    if (status !== 0) process.exit(status);
  }
  process.stderr.write(`\n[bench] all ${names.length} benchmarks done in ${seconds(started)} s\n`);
}
if (reportOnly || (!quick && !noReport)) {
  const file = await writeReport({ resultsDir: outDir, docsDir: join(root, 'docs') });
  process.stderr.write(`[bench] wrote ${file}\n`);
}
