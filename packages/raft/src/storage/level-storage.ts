/**
 * The LevelDB adapter: the Raft log, the hard state and the snapshots of one node in ONE `level`
 * database, so a single synced batch can cover everything a Ready persists.
 *
 * Key layout. Numbers are fixed-width big-endian, so byte order is numeric order:
 *   'e' + index(8)                      a log entry, value msgpack [term, kind, data|null, membership|null]
 *   'h'                                 the hard state, value msgpack {term, vote, commit}
 *   'S' + index(8)                      a committed snapshot's meta (see StoredSnapshotMeta)
 *   's' + index(8) + gen(4) + chunk(4)  snapshot chunk bytes, raw
 *
 * Durability. Every write that later state depends on is synced. LevelDB 1.20 (bundled by
 * classic-level) closes the old write-ahead log without fsync when the memtable rolls over, so an
 * unsynced write followed by a synced one can lose the former and keep the latter on power loss.
 * Syncing every log mutation (including prefix discards and tail truncations) rules out stale
 * entries resurfacing next to newer ones.
 *
 * Snapshot chunks carry a generation number so a sink never writes over the chunks of a committed
 * snapshot at the same index; chunks of a generation that no meta names are garbage from an abort
 * or a crash, removed on open.
 */
import { Level } from 'level';
import { Packr } from 'msgpackr';
import type { Logger } from 'pino';
import type { Entry, EntryKind, HardState, Membership, SnapshotMeta } from '../core/types.js';
import type { PersistBatch, RaftStorage, SnapshotSink, SnapshotStore } from '../ports.js';

export type LevelStorageErrorCode = 'LOG_GAP' | 'SINK_CLOSED' | 'CORRUPT_META';

export class LevelStorageError extends Error {
  readonly code: LevelStorageErrorCode;
  constructor(code: LevelStorageErrorCode, message: string) {
    super(message);
    this.name = 'LevelStorageError';
    this.code = code;
  }
}

export class SnapshotNotFoundError extends Error {
  readonly code = 'SNAPSHOT_NOT_FOUND';
  readonly index: number;
  constructor(index: number, detail = 'no committed snapshot') {
    super(`snapshot at index ${index} not found: ${detail}`);
    this.name = 'SnapshotNotFoundError';
    this.index = index;
  }
}

export interface LevelStorageOptions {
  /** Receives warnings about recovered corruption. */
  readonly logger?: Logger;
  /** A snapshot sink buffers chunks up to this many bytes before one synced write. Default 1 MiB. */
  readonly snapshotFlushBytes?: number;
}

type Db = Level<Buffer, Uint8Array>;
type Op = { type: 'put'; key: Buffer; value: Uint8Array } | { type: 'del'; key: Buffer };

const ENTRY = 0x65; // 'e'
const HARD_STATE = 0x68; // 'h'
const CHUNK = 0x73; // 's'
const META = 0x53; // 'S'
const ENTRY_KEY_BYTES = 9;
const CHUNK_KEY_BYTES = 17;
const TWO_32 = 2 ** 32;
/** Entries deleted per slice of a discard. */
const DISCARD_SLICE_ENTRIES = 20_000;
const DISCARD_MARK = 0x64; // 'd': the last discarded index; written synced after a range delete

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const HARD_STATE_KEY = Buffer.from([HARD_STATE]);
const DISCARD_MARK_KEY = Buffer.from([DISCARD_MARK]);
const ENTRY_MIN = Buffer.from([ENTRY]);
const ENTRY_END = Buffer.from([ENTRY + 1]);
const META_MIN = Buffer.from([META]);
const META_END = Buffer.from([META + 1]);
const CHUNK_MIN = Buffer.from([CHUNK]);
const CHUNK_END = Buffer.from([CHUNK + 1]);

function writeU64(buf: Buffer, n: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(n / TWO_32), offset);
  buf.writeUInt32BE(n >>> 0, offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

function indexKey(prefix: number, index: number): Buffer {
  const key = Buffer.allocUnsafe(ENTRY_KEY_BYTES);
  key[0] = prefix;
  writeU64(key, index, 1);
  return key;
}

const entryKey = (index: number): Buffer => indexKey(ENTRY, index);
const metaKey = (index: number): Buffer => indexKey(META, index);

function chunkKey(index: number, gen: number, chunk: number): Buffer {
  const key = Buffer.allocUnsafe(CHUNK_KEY_BYTES);
  key[0] = CHUNK;
  writeU64(key, index, 1);
  key.writeUInt32BE(gen, 9);
  key.writeUInt32BE(chunk, 13);
  return key;
}

/** The key range holding every chunk of one snapshot generation. */
function chunkRange(index: number, gen: number): { gte: Buffer; lte: Buffer } {
  return { gte: chunkKey(index, gen, 0), lte: chunkKey(index, gen, 0xffffffff) };
}

/** The index in an entry key, or undefined when the key is not a well-formed entry key. */
function entryKeyIndex(key: Buffer): number | undefined {
  return key.length === ENTRY_KEY_BYTES && key[0] === ENTRY ? readU64(key, 1) : undefined;
}

function encodeEntry(e: Entry): Uint8Array {
  return packr.pack([e.term, e.kind, e.data ?? null, e.membership ?? null]);
}

function isMembership(v: unknown): v is Membership {
  if (typeof v !== 'object' || v === null || !Array.isArray((v as Membership).voters)) return false;
  return (v as Membership).voters.every(
    (m) => typeof m === 'object' && m !== null && Number.isSafeInteger(m.id) && typeof m.address === 'string',
  );
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** The entry stored under `index`, or undefined when the value is torn or malformed. */
function decodeEntry(index: number, value: Uint8Array): Entry | undefined {
  let v: unknown;
  try {
    v = packr.unpack(value);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 4) return undefined;
  const [term, kind, data, membership] = v as unknown[];
  if (!isCount(term) || (kind !== 0 && kind !== 1 && kind !== 2)) return undefined;
  if (data !== null && !(data instanceof Uint8Array)) return undefined;
  if (membership !== null && !isMembership(membership)) return undefined;
  const entry: { index: number; term: number; kind: EntryKind; data?: Uint8Array; membership?: Membership } =
    {
      index,
      term,
      kind,
    };
  // A plain Uint8Array view (not a Buffer), so entries read back equal the ones written.
  if (data !== null) entry.data = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (membership !== null) entry.membership = membership;
  return entry;
}

/** What the 'S' key holds: the snapshot meta plus where its chunks are. */
interface StoredSnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
  readonly gen: number;
  readonly chunks: number;
  readonly bytes: number;
}

function decodeMeta(value: Uint8Array): StoredSnapshotMeta {
  const v = packr.unpack(value) as Partial<StoredSnapshotMeta> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    !isCount(v.index) ||
    !isCount(v.term) ||
    !isCount(v.gen) ||
    !isCount(v.chunks) ||
    !isMembership(v.membership)
  ) {
    throw new LevelStorageError('CORRUPT_META', 'malformed snapshot meta');
  }
  return v as StoredSnapshotMeta;
}

const publicMeta = (m: StoredSnapshotMeta): SnapshotMeta => ({
  index: m.index,
  term: m.term,
  membership: m.membership,
});

export class LevelStorage implements RaftStorage, SnapshotStore {
  /**
   * Stored entries are exactly [first, last]; the log is empty iff last < first. Only `persist`,
   * `discardThrough` and recovery change them, which the driver never runs concurrently.
   */
  private first = 1;
  private last = 0;
  /**
   * The log validated by open(), handed to the first loadEntries() so recovery reads it once.
   * Any write makes it stale, so writes drop it.
   */
  private recovered: Entry[] | undefined;
  private nextGen: number;
  private readonly flushBytes: number;
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly db: Db,
    private readonly opts: LevelStorageOptions,
    nextGen: number,
  ) {
    this.nextGen = nextGen;
    this.flushBytes = opts.snapshotFlushBytes ?? 1024 * 1024;
  }

  /** Opens (creating if missing) the database at `dir`, recovering a torn log tail if any. */
  static async open(dir: string, opts: LevelStorageOptions = {}): Promise<LevelStorage> {
    const db: Db = new Level<Buffer, Uint8Array>(dir, { keyEncoding: 'buffer', valueEncoding: 'view' });
    await db.open();
    try {
      const nextGen = await removeOrphanChunks(db, opts.logger);
      const storage = new LevelStorage(db, opts, nextGen);
      storage.recovered = await storage.recover();
      return storage;
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  get firstIndex(): number {
    return this.first;
  }

  get lastIndex(): number {
    return this.last;
  }

  async loadEntries(): Promise<Entry[]> {
    const entries = this.recovered ?? (await this.recover());
    this.recovered = undefined;
    return entries;
  }

  async loadHardState(): Promise<HardState> {
    const value = await this.db.get(HARD_STATE_KEY);
    if (value === undefined) return { term: 0, vote: 0, commit: 0 };
    const { term, vote, commit } = packr.unpack(value) as HardState;
    return { term, vote, commit };
  }

  /**
   * Log writes run one at a time in call order, so a compaction the driver starts off its loop never
   * interleaves with a persist (both move `first`/`last`).
   */
  private serialize<T>(op: () => Promise<T>): Promise<T> {
    const run = this.writes.then(op);
    this.writes = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  persist(batch: PersistBatch): Promise<void> {
    return this.serialize(() => this.persistNow(batch));
  }

  private async persistNow(batch: PersistBatch): Promise<void> {
    this.recovered = undefined;
    // A chained batch: the array form costs several times more CPU per operation in abstract-level.
    const b = this.db.batch();
    let ops = 0;
    let first = this.first;
    let last = this.last;
    if (batch.snapshot !== undefined) {
      // The snapshot replaces the whole log (entries after it may conflict with the leader's), in the
      // same atomic batch, so a crash never leaves a log with a gap after the snapshot.
      const s = batch.snapshot.index;
      for (let i = first; i <= last; i++, ops++) b.del(entryKey(i));
      first = s + 1;
      last = s;
    }
    const entries = batch.entries;
    const head = entries[0];
    if (head !== undefined) {
      const empty = last < first;
      if (!empty && head.index > last + 1) {
        await b.close();
        throw new LevelStorageError('LOG_GAP', `entries start at ${head.index} but the log ends at ${last}`);
      }
      for (let i = Math.max(head.index, first); i <= last; i++, ops++) b.del(entryKey(i));
      for (let k = 0; k < entries.length; k++, ops++) {
        const e = entries[k]!;
        if (e.index !== head.index + k) {
          await b.close();
          throw new LevelStorageError('LOG_GAP', `entry ${e.index} follows ${head.index + k - 1}`);
        }
        b.put(entryKey(e.index), encodeEntry(e));
      }
      first = empty ? head.index : Math.min(first, head.index);
      last = head.index + entries.length - 1;
    }
    if (batch.hardState !== undefined) {
      const { term, vote, commit } = batch.hardState;
      b.put(HARD_STATE_KEY, packr.pack({ term, vote, commit }));
      ops++;
    }
    if (ops > 0) await b.write({ sync: batch.sync !== false });
    else await b.close();
    this.first = first;
    this.last = last;
  }

  async discardThrough(index: number): Promise<void> {
    // In slices, each its own queued write, so persists interleave instead of waiting behind one
    // long delete (a compaction may drop hundreds of thousands of entries).
    for (;;) {
      const more = await this.serialize(async () => {
        this.recovered = undefined;
        const end = Math.min(index, this.last, this.first + DISCARD_SLICE_ENTRIES - 1);
        if (end >= this.first) {
          // A native range delete, made durable by the synced marker write after it: a lost delete
          // could otherwise resurrect a prefix that a later snapshot install leaves behind a gap.
          await this.db.clear({ gte: entryKey(this.first), lte: entryKey(end) });
          await this.db.put(DISCARD_MARK_KEY, packr.pack(end), { sync: true });
          this.first = end + 1;
          return end < Math.min(index, this.last);
        }
        if (index >= this.first) {
          this.first = index + 1;
          this.last = Math.max(this.last, index);
        }
        return false;
      });
      if (!more) return;
    }
  }

  async close(): Promise<void> {
    this.recovered = undefined;
    // Writes already queued (a background commit hint) finish first.
    await this.writes;
    await this.db.close();
  }

  create(meta: SnapshotMeta): SnapshotSink {
    return new LevelSnapshotSink(this.db, meta, this.nextGen++, this.flushBytes);
  }

  async latest(): Promise<SnapshotMeta | undefined> {
    const [value] = await this.db.values({ gte: META_MIN, lt: META_END, reverse: true, limit: 1 }).all();
    return value === undefined ? undefined : publicMeta(decodeMeta(value));
  }

  async *read(index: number): AsyncIterable<Uint8Array> {
    const value = await this.db.get(metaKey(index));
    if (value === undefined) throw new SnapshotNotFoundError(index);
    const meta = decodeMeta(value);
    let expected = 0;
    // The iterator reads from an implicit LevelDB snapshot, so a concurrent prune either removed
    // the chunks before it was created (caught by the count check) or not at all.
    for await (const [key, chunk] of this.db.iterator(chunkRange(index, meta.gen))) {
      if (key.readUInt32BE(13) !== expected) break;
      expected++;
      yield chunk;
    }
    if (expected !== meta.chunks) {
      throw new SnapshotNotFoundError(index, `found ${expected} of ${meta.chunks} chunks`);
    }
  }

  async pruneBefore(index: number): Promise<void> {
    const doomed: StoredSnapshotMeta[] = [];
    for await (const value of this.db.values({ gte: META_MIN, lt: metaKey(index) })) {
      doomed.push(decodeMeta(value));
    }
    if (doomed.length === 0) return;
    // Metas go first and durably: a visible snapshot must never be missing chunks.
    await this.db.batch(
      doomed.map((m): Op => ({ type: 'del', key: metaKey(m.index) })),
      { sync: true },
    );
    for (const m of doomed) await this.db.clear(chunkRange(m.index, m.gen));
  }

  /**
   * Reads and validates the whole log. Keeps the longest contiguous prefix whose values decode and
   * deletes everything after it with one synced batch, so a later append can never sit next to
   * stale entries.
   */
  private async recover(): Promise<Entry[]> {
    const entries: Entry[] = [];
    const garbage: Op[] = [];
    let firstBad: { key: Buffer; reason: string } | undefined;
    for await (const [key, value] of this.db.iterator({ gte: ENTRY_MIN, lt: ENTRY_END })) {
      if (firstBad === undefined) {
        const reason = this.checkNext(entries, key, value);
        if (reason === undefined) continue;
        firstBad = { key, reason };
      }
      garbage.push({ type: 'del', key });
    }
    if (firstBad !== undefined) {
      this.opts.logger?.warn(
        {
          keptThrough: entries.at(-1)?.index ?? null,
          firstBadKey: firstBad.key.toString('hex'),
          reason: firstBad.reason,
          deletedKeys: garbage.length,
        },
        'raft log has a torn or corrupt tail; truncating to the longest valid prefix',
      );
      await this.db.batch(garbage, { sync: true });
    }
    const head = entries[0];
    const tail = entries.at(-1);
    if (head !== undefined && tail !== undefined) {
      this.first = head.index;
      this.last = tail.index;
    } else {
      this.first = 1;
      this.last = 0;
    }
    return entries;
  }

  /** Appends the entry under `key` to `entries` if it extends them; otherwise says why not. */
  private checkNext(entries: Entry[], key: Buffer, value: Uint8Array): string | undefined {
    const index = entryKeyIndex(key);
    if (index === undefined) return 'malformed key';
    const prev = entries.at(-1);
    if (prev !== undefined && index !== prev.index + 1) return `gap after index ${prev.index}`;
    const entry = decodeEntry(index, value);
    if (entry === undefined) return 'undecodable value';
    entries.push(entry);
    return undefined;
  }
}

/**
 * Deletes chunks no committed meta names (aborted or interrupted sinks) and returns the next free
 * generation number.
 */
async function removeOrphanChunks(db: Db, logger: Logger | undefined): Promise<number> {
  const live = new Set<string>();
  let maxGen = -1;
  for await (const value of db.values({ gte: META_MIN, lt: META_END })) {
    const m = decodeMeta(value);
    live.add(`${m.index}/${m.gen}`);
    maxGen = Math.max(maxGen, m.gen);
  }
  const orphans = new Map<string, { index: number; gen: number }>();
  for await (const key of db.keys({ gte: CHUNK_MIN, lt: CHUNK_END })) {
    if (key.length !== CHUNK_KEY_BYTES) {
      await db.del(key);
      continue;
    }
    const index = readU64(key, 1);
    const gen = key.readUInt32BE(9);
    maxGen = Math.max(maxGen, gen);
    const id = `${index}/${gen}`;
    if (!live.has(id)) orphans.set(id, { index, gen });
  }
  for (const { index, gen } of orphans.values()) await db.clear(chunkRange(index, gen));
  if (orphans.size > 0) {
    logger?.info({ orphans: orphans.size }, 'removed chunks of uncommitted snapshots');
  }
  return maxGen + 1;
}

class LevelSnapshotSink implements SnapshotSink {
  private state: 'open' | 'committed' | 'aborted' = 'open';
  private nextChunk = 0;
  private totalBytes = 0;
  private buffered: Op[] = [];
  private bufferedBytes = 0;
  /**
   * Flushes run one after another: classic-level runs batches on a thread pool, so two in flight
   * could land out of order, and commit() must not make the meta visible before every chunk.
   */
  private flushed: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly meta: SnapshotMeta,
    private readonly gen: number,
    private readonly flushBytes: number,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    this.assertOpen('write');
    // Copied: the caller may reuse its buffer once write() resolves, before the chunk is flushed.
    const value = Buffer.from(chunk);
    this.buffered.push({ type: 'put', key: chunkKey(this.meta.index, this.gen, this.nextChunk++), value });
    this.bufferedBytes += value.length;
    this.totalBytes += value.length;
    if (this.bufferedBytes >= this.flushBytes) await this.flush([]);
  }

  async commit(): Promise<void> {
    this.assertOpen('commit');
    this.state = 'committed';
    const key = metaKey(this.meta.index);
    const previous = await this.db.get(key);
    const replaced = previous === undefined ? undefined : decodeMeta(previous);
    const stored: StoredSnapshotMeta = {
      index: this.meta.index,
      term: this.meta.term,
      membership: this.meta.membership,
      gen: this.gen,
      chunks: this.nextChunk,
      bytes: this.totalBytes,
    };
    await this.flush([{ type: 'put', key, value: packr.pack(stored) }]);
    // The meta now names this generation, so the replaced one is unreachable garbage.
    if (replaced !== undefined) await this.db.clear(chunkRange(replaced.index, replaced.gen));
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.buffered = [];
    // Wait out in-flight flushes so none lands after the clear; their failure no longer matters.
    await this.flushed.catch(() => {});
    await this.db.clear(chunkRange(this.meta.index, this.gen));
  }

  /**
   * Writes the buffered chunks plus `extra` in one synced batch, after every earlier flush. Synced
   * so each flush is durable on its own (see the file comment on log rollover); a failed flush
   * fails every later one, so commit() cannot succeed over a missing chunk.
   */
  private flush(extra: Op[]): Promise<void> {
    const ops = this.buffered.concat(extra);
    this.buffered = [];
    this.bufferedBytes = 0;
    this.flushed = this.flushed.then(() => this.db.batch(ops, { sync: true }));
    return this.flushed;
  }

  private assertOpen(op: string): void {
    if (this.state !== 'open') {
      throw new LevelStorageError('SINK_CLOSED', `cannot ${op}: snapshot sink already ${this.state}`);
    }
  }
}
