#!/usr/bin/env node
// Runs every example of this directory, one after the other, each as its own process (as a user
// would run it), and exits non-zero when any fails or runs longer than its time limit.
// Run: npm run examples   (or, after npm run build: node examples/run-all.mjs [name...])
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TIMEOUT_MS = 60_000;
const here = dirname(fileURLToPath(import.meta.url));
const self = basename(fileURLToPath(import.meta.url));
const only = process.argv.slice(2).map((n) => n.replace(/\.mjs$/, ''));
const examples = readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && f !== self)
  .filter((f) => only.length === 0 || only.includes(f.replace(/\.mjs$/, '')))
  .sort();
if (examples.length === 0) {
  console.error('no example matched', only);
  process.exit(2);
}

function runOne(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(here, file)], { stdio: ['ignore', 'inherit', 'inherit'] });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ file, ok: code === 0, code, signal, timedOut, ms: Date.now() - started });
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ file, ok: false, code: null, signal: null, timedOut, ms: Date.now() - started, err });
    });
  });
}

const results = [];
for (const file of examples) {
  console.log(`\n=== ${file}`);
  const r = await runOne(file);
  results.push(r);
  const why = r.timedOut
    ? `timed out after ${TIMEOUT_MS} ms`
    : (r.err?.message ?? `exit ${r.code ?? r.signal}`);
  console.log(`=== ${file}: ${r.ok ? 'ok' : `FAILED (${why})`} in ${r.ms} ms`);
}

const failed = results.filter((r) => !r.ok);
console.log(`\n${results.length - failed.length}/${results.length} examples passed`);
for (const r of failed) console.log(`  failed: ${r.file}`);
process.exit(failed.length === 0 ? 0 : 1);
