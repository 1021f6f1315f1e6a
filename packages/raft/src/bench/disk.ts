/** The machine's own durable-write latency, measured where the Raft nodes keep their data. */
import { randomBytes } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { LatencyRecorder, type LatencySummary } from './stats.js';

export interface DiskResult {
  /** `fs.writeSync` of `payloadBytes` followed by `fs.fdatasyncSync`, appended to one file. */
  readonly fdatasync: LatencySummary;
  /** LevelDB `put` of `payloadBytes` with `{ sync: true }` (what every Raft persist pays at least). */
  readonly levelPutSync: LatencySummary;
  readonly iterations: number;
  readonly payloadBytes: number;
}

/** Raw samples of several disk measurements, for a combined summary. */
export interface DiskSamples {
  readonly fdatasync: LatencyRecorder;
  readonly levelPutSync: LatencyRecorder;
}

export function newDiskSamples(): DiskSamples {
  return { fdatasync: new LatencyRecorder(), levelPutSync: new LatencyRecorder() };
}

export async function measureDisk(
  dir: string,
  iterations: number,
  payloadBytes: number,
  into?: DiskSamples,
): Promise<DiskResult> {
  await mkdir(dir, { recursive: true });
  const payload = randomBytes(payloadBytes);

  const file = join(dir, 'fsync-probe.bin');
  const fd = openSync(file, 'w');
  const fsync = new LatencyRecorder();
  try {
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      writeSync(fd, payload);
      fdatasyncSync(fd);
      fsync.recordMs(performance.now() - t0);
    }
  } finally {
    closeSync(fd);
    unlinkSync(file);
  }

  const db = new Level<Buffer, Uint8Array>(join(dir, 'fsync-probe-level'), {
    keyEncoding: 'buffer',
    valueEncoding: 'view',
  });
  await db.open();
  const put = new LatencyRecorder();
  try {
    const key = Buffer.alloc(8);
    for (let i = 0; i < iterations; i++) {
      key.writeUInt32BE(i, 4);
      const t0 = performance.now();
      await db.put(Buffer.from(key), payload, { sync: true });
      put.recordMs(performance.now() - t0);
    }
  } finally {
    await db.close();
  }
  into?.fdatasync.addAll(fsync);
  into?.levelPutSync.addAll(put);
  return { fdatasync: fsync.summary(), levelPutSync: put.summary(), iterations, payloadBytes };
}
