#!/usr/bin/env node
// What an fdatasync of a small write costs on this disk, appending to a file (the size changes, so the
// filesystem journals it, as LevelDB's log does) against overwriting a preallocated, written file (what
// a segment-file Raft log would do): wall time, this process's CPU, and the whole machine's CPU (the
// journal's kernel threads included) per write. Run it on a quiet machine.
//
//   node scripts/perf/fsync-prealloc.mjs [--dir DIR] [--writes 2000] [--bytes 3000]
import { closeSync, fdatasyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.' },
    writes: { type: 'string', default: '2000' },
    bytes: { type: 'string', default: '3000' },
  },
});
const n = Number(values.writes);
const size = Number(values.bytes);
if (!(n >= 1 && size >= 1)) {
  process.stderr.write('--writes and --bytes must be positive\n');
  process.exit(2);
}
const dir = mkdtempSync(join(values.dir, 'fsync-prealloc-'));

/** Busy CPU ms of the whole machine so far (/proc/stat, all CPUs). */
function machineBusyMs() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  return (f.reduce((a, b) => a + b, 0) - idle) * 10;
}

function run(name, preallocate) {
  const path = join(dir, name);
  const fd = openSync(path, 'w+');
  const block = Buffer.alloc(size, 7);
  if (preallocate) {
    const zeros = Buffer.alloc(1 << 20);
    for (let written = 0; written < n * size; written += zeros.length) writeSync(fd, zeros);
    fdatasyncSync(fd);
  }
  const busy0 = machineBusyMs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    writeSync(fd, block, 0, size, i * size);
    fdatasyncSync(fd);
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const machineUs = ((machineBusyMs() - busy0) * 1000) / n;
  closeSync(fd);
  process.stdout.write(
    `${name.padEnd(12)} wall ${(wallMs / n).toFixed(3)} ms, process CPU ${((cpu.user + cpu.system) / n).toFixed(1)} us, machine CPU ${machineUs.toFixed(1)} us per write\n`,
  );
}

try {
  for (let round = 0; round < 2; round++) {
    run('append', false);
    run('preallocated', true);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
