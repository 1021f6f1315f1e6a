#!/usr/bin/env node
// Runs every `bench:*` script of the root package.json in order, passing the arguments through
// (e.g. `npm run bench -- --quick`). Stops at the first benchmark that fails.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const args = process.argv.slice(2);
const names = Object.keys(pkg.scripts).filter((n) => n.startsWith('bench:'));
for (const [i, name] of names.entries()) {
  process.stderr.write(`\n[${i + 1}/${names.length}] npm run ${name} ${args.join(' ')}\n`);
  const r = spawnSync('npm', ['run', '--silent', name, '--', ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`${name} failed (exit ${r.status})\n`);
    process.exit(r.status ?? 1);
  }
}
