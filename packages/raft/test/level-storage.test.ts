import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import type { Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Entry, EntryKind, type Membership, type SnapshotMeta } from '../src/core/types.js';
import { LevelStorage, LevelStorageError, SnapshotNotFoundError } from '../src/storage/level-storage.js';

const membership: Membership = {
  voters: [
    { id: 1, address: 'localhost:9001' },
    { id: 2, address: 'localhost:9002' },
  ],
};

function entry(index: number, term = 1): Entry {
  return { index, term, kind: EntryKind.Normal, data: new Uint8Array([index & 0xff, 1, 2, 3]) };
}

function range(from: number, to: number, term = 1): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

function entryKey(index: number): Buffer {
  const key = Buffer.alloc(9);
  key[0] = 0x65;
  key.writeBigUInt64BE(BigInt(index), 1);
  return key;
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

function meta(index: number, term = 1): SnapshotMeta {
  return { index, term, membership };
}

describe('LevelStorage', () => {
  let dir: string;
  let storage: LevelStorage | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'raft-level-'));
  });

  afterEach(async () => {
    await storage?.close();
    storage = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function open(): Promise<LevelStorage> {
    storage = await LevelStorage.open(join(dir, 'db'));
    return storage;
  }

  async function reopen(): Promise<LevelStorage> {
    await storage?.close();
    return open();
  }

  it('starts empty with a zero hard state', async () => {
    const s = await open();
    expect(await s.loadEntries()).toEqual([]);
    expect(await s.loadHardState()).toEqual({ term: 0, vote: 0, commit: 0 });
    expect(await s.latest()).toBeUndefined();
  });

  it('round-trips entries of every kind and the hard state across reopen', async () => {
    const s = await open();
    const entries: Entry[] = [
      { index: 1, term: 1, kind: EntryKind.NoOp },
      { index: 2, term: 1, kind: EntryKind.Membership, membership },
      { index: 3, term: 2, kind: EntryKind.Normal, data: new Uint8Array([9, 8, 7]) },
      { index: 4, term: 2, kind: EntryKind.Normal, data: new Uint8Array(0) },
    ];
    await s.persist({ entries, hardState: { term: 2, vote: 1, commit: 3 } });
    const r = await reopen();
    const loaded = await r.loadEntries();
    expect(loaded).toEqual(entries);
    expect(loaded[2]?.data).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(loaded[2]!.data!)).toEqual(Buffer.from([9, 8, 7]));
    expect(await r.loadHardState()).toEqual({ term: 2, vote: 1, commit: 3 });
    expect([r.firstIndex, r.lastIndex]).toEqual([1, 4]);
    // A second call reads the log again rather than returning nothing.
    expect(await r.loadEntries()).toEqual(entries);
  });

  it('handles indexes beyond 32 bits in numeric order', async () => {
    const s = await open();
    const base = 2 ** 40 - 2;
    await s.persist({ entries: range(base, base + 3) });
    const r = await reopen();
    expect((await r.loadEntries()).map((e) => e.index)).toEqual([base, base + 1, base + 2, base + 3]);
  });

  it('truncates a conflicting suffix on a later persist', async () => {
    const s = await open();
    await s.persist({ entries: range(1, 10, 1) });
    await s.persist({ entries: range(6, 7, 2) });
    expect([s.firstIndex, s.lastIndex]).toEqual([1, 7]);
    const r = await reopen();
    const loaded = await r.loadEntries();
    expect(loaded.map((e) => [e.index, e.term])).toEqual([
      ...range(1, 5, 1).map((e) => [e.index, 1]),
      [6, 2],
      [7, 2],
    ]);
  });

  it('refuses entries that would leave a gap', async () => {
    const s = await open();
    await s.persist({ entries: range(1, 3) });
    await expect(s.persist({ entries: range(5, 6) })).rejects.toMatchObject({ code: 'LOG_GAP' });
    await expect(s.persist({ entries: [entry(4), entry(6)] })).rejects.toBeInstanceOf(LevelStorageError);
    expect(await s.loadEntries()).toEqual(range(1, 3));
  });

  it('drops the whole stored log when a snapshot replaces it, even entries past it', async () => {
    const s = await open();
    await s.persist({ entries: range(1, 10) });
    await s.persist({ entries: [], snapshot: meta(6) });
    expect(s.lastIndex < s.firstIndex).toBe(true);
    const r = await reopen();
    expect(await r.loadEntries()).toEqual([]);
    await r.persist({ entries: range(7, 8) });
    expect((await r.loadEntries()).map((e) => e.index)).toEqual([7, 8]);
  });

  it('replaces the whole log with a snapshot beyond it plus new entries', async () => {
    const s = await open();
    await s.persist({ entries: range(1, 5) });
    await s.persist({
      entries: range(21, 22, 3),
      snapshot: meta(20, 3),
      hardState: { term: 3, vote: 2, commit: 20 },
    });
    expect([s.firstIndex, s.lastIndex]).toEqual([21, 22]);
    const r = await reopen();
    expect((await r.loadEntries()).map((e) => e.index)).toEqual([21, 22]);
    expect(await r.loadHardState()).toEqual({ term: 3, vote: 2, commit: 20 });
  });

  it('discards through an index', async () => {
    const s = await open();
    await s.persist({ entries: range(1, 10) });
    await s.discardThrough(4);
    expect(s.firstIndex).toBe(5);
    await s.discardThrough(2);
    await s.persist({ entries: range(11, 12) });
    const r = await reopen();
    expect((await r.loadEntries()).map((e) => e.index)).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
    await r.discardThrough(100);
    expect(await r.loadEntries()).toEqual([]);
    await r.persist({ entries: range(101, 101) });
    expect((await (await reopen()).loadEntries()).map((e) => e.index)).toEqual([101]);
  });

  it('recovers the valid prefix when a tail value is torn', async () => {
    const s = await open();
    await s.persist({ entries: range(1, 5), hardState: { term: 1, vote: 1, commit: 5 } });
    await s.close();
    storage = undefined;
    const raw = new Level<Buffer, Uint8Array>(join(dir, 'db'), {
      keyEncoding: 'buffer',
      valueEncoding: 'view',
    });
    await raw.open();
    await raw.put(entryKey(6), new Uint8Array([0xc4, 0x40, 1, 2])); // bin header promising 64 bytes
    await raw.put(entryKey(7), Buffer.from(range(7, 7)[0]!.data!));
    await raw.put(entryKey(9), new Uint8Array([0x94, 1, 0, 0xc0, 0xc0])); // valid, but after a gap
    await raw.close();

    const warn = vi.fn();
    const logger = { warn, info: vi.fn() } as unknown as Logger;
    const r = await LevelStorage.open(join(dir, 'db'), { logger });
    storage = r;
    expect(await r.loadEntries()).toEqual(range(1, 5));
    expect(r.lastIndex).toBe(5);
    expect(warn).toHaveBeenCalledOnce();
    expect(warn.mock.calls[0]?.[0]).toMatchObject({
      keptThrough: 5,
      reason: 'undecodable value',
      deletedKeys: 3,
    });
    await r.persist({ entries: range(6, 7, 2) });
    const again = await reopen();
    expect((await again.loadEntries()).map((e) => [e.index, e.term])).toEqual([
      ...range(1, 5).map((e) => [e.index, 1]),
      [6, 2],
      [7, 2],
    ]);
    expect(await again.loadHardState()).toEqual({ term: 1, vote: 1, commit: 5 });
  });

  it('keeps the prefix before a gap', async () => {
    const s = await open();
    await s.persist({ entries: range(1, 6) });
    await s.close();
    storage = undefined;
    const raw = new Level<Buffer, Uint8Array>(join(dir, 'db'), {
      keyEncoding: 'buffer',
      valueEncoding: 'view',
    });
    await raw.open();
    await raw.del(entryKey(4));
    await raw.close();
    const r = await open();
    expect((await r.loadEntries()).map((e) => e.index)).toEqual([1, 2, 3]);
    expect((await (await reopen()).loadEntries()).map((e) => e.index)).toEqual([1, 2, 3]);
  });

  describe('snapshots', () => {
    it('makes a snapshot visible only after commit', async () => {
      const s = await open();
      const sink = s.create(meta(10, 2));
      await sink.write(Buffer.from('hello '));
      await sink.write(Buffer.from('world'));
      expect(await s.latest()).toBeUndefined();
      await expect(collect(s.read(10))).rejects.toBeInstanceOf(SnapshotNotFoundError);
      await sink.commit();
      expect(await s.latest()).toEqual(meta(10, 2));
      expect((await collect(s.read(10))).toString()).toBe('hello world');
      await expect(sink.write(Buffer.from('x'))).rejects.toMatchObject({ code: 'SINK_CLOSED' });
    });

    it('streams many chunks in order across flushes and reopen', async () => {
      storage = await LevelStorage.open(join(dir, 'db'), { snapshotFlushBytes: 100 });
      const sink = storage.create(meta(5));
      const reused = Buffer.alloc(37);
      const expected: Buffer[] = [];
      for (let i = 0; i < 300; i++) {
        reused.fill(i & 0xff);
        expected.push(Buffer.from(reused));
        await sink.write(reused);
      }
      await sink.commit();
      const r = await reopen();
      const chunks: Uint8Array[] = [];
      for await (const c of r.read(5)) chunks.push(c);
      expect(chunks.map((c) => Buffer.from(c))).toEqual(expected);
    });

    it('drops an aborted snapshot', async () => {
      const s = await open();
      const sink = s.create(meta(3));
      await sink.write(Buffer.from('partial'));
      await sink.abort();
      expect(await s.latest()).toBeUndefined();
      await expect(collect(s.read(3))).rejects.toBeInstanceOf(SnapshotNotFoundError);
      await expect(sink.commit()).rejects.toBeInstanceOf(LevelStorageError);
    });

    it('never exposes an uncommitted sink at the index of a committed snapshot', async () => {
      const s = await open();
      const first = s.create(meta(7));
      await first.write(Buffer.from('old'));
      await first.commit();
      const second = s.create(meta(7, 2));
      await second.write(Buffer.from('new-but-uncommitted'));
      expect((await collect(s.read(7))).toString()).toBe('old');
      // An interrupted sink leaves orphan chunks; reopening removes them without touching 'old'.
      const r = await reopen();
      expect((await collect(r.read(7))).toString()).toBe('old');
      const third = r.create(meta(7, 3));
      await third.write(Buffer.from('replacement'));
      await third.commit();
      expect(await r.latest()).toEqual(meta(7, 3));
      expect((await collect(r.read(7))).toString()).toBe('replacement');
    });

    it('reports the latest and prunes older snapshots', async () => {
      const s = await open();
      for (const index of [10, 20, 30]) {
        const sink = s.create(meta(index));
        await sink.write(Buffer.from(`snap-${index}`));
        await sink.commit();
      }
      expect(await s.latest()).toEqual(meta(30));
      await s.pruneBefore(30);
      expect(await s.latest()).toEqual(meta(30));
      await expect(collect(s.read(10))).rejects.toBeInstanceOf(SnapshotNotFoundError);
      await expect(collect(s.read(20))).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND', index: 20 });
      expect((await collect(s.read(30))).toString()).toBe('snap-30');
    });

    it('keeps snapshots and the log independent', async () => {
      const s = await open();
      await s.persist({ entries: range(1, 8) });
      const sink = s.create(meta(8));
      await sink.write(Buffer.from('state'));
      await sink.commit();
      await s.persist({ entries: [], snapshot: meta(8) });
      const r = await reopen();
      expect(await r.loadEntries()).toEqual([]);
      expect(await r.latest()).toEqual(meta(8));
      await r.persist({ entries: range(9, 10) });
      expect((await r.loadEntries()).map((e) => e.index)).toEqual([9, 10]);
    });
  });
});
