/**
 * The controller's speculative image (committed + proposed batches) on a scripted Raft: later
 * operations see earlier ones' effects before they commit, except offset commits, which move only the
 * offset (no handler decides on a commit still in flight, and replaying each again on every rebase
 * cost more than committing it).
 */
import { describe, expect, it } from 'vitest';
import * as h from '../src/controller/handlers.js';
import { type ControllerRaft, QuorumController } from '../src/controller/quorum-controller.js';
import type { MetadataImageView } from '../src/image/types.js';
import { decodeBatch, RecordType } from '../src/records.js';
import { replayBatch } from '../src/replay.js';
import { Harness, seeded } from './helpers/harness.js';

/** A leader whose proposals wait until `commitAll()` replays them into the committed image. */
function scriptedRaft(committed: { image: MetadataImageView }) {
  const proposals: { data: Uint8Array; resolve: (index: number) => void }[] = [];
  let last = committed.image.provenance.offset;
  const raft: ControllerRaft = {
    id: 1,
    propose: (data, _timeoutMs, options) =>
      new Promise<number>((resolve) => {
        const index = ++last;
        options?.onAccepted?.(index, 1);
        proposals.push({ data, resolve: () => resolve(index) });
      }),
    readIndex: async () => committed.image.provenance.offset,
    status: () => ({ role: 'leader', leaderId: 1, term: 1 }),
    on: () => undefined,
    off: () => undefined,
  };
  const commitAll = () => {
    for (const p of proposals.splice(0)) {
      const index = committed.image.provenance.offset + 1;
      committed.image = replayBatch(committed.image, decodeBatch(p.data), index, 1);
      p.resolve(index);
    }
  };
  return { raft, commitAll, proposals };
}

/** One broker and a topic `a` of `partitions` partitions. */
function withTopicA(partitions: number): Harness {
  const t = new Harness();
  t.brokers([1]);
  t.run(
    h.createTopics(t.image, [{ name: 'a', numPartitions: partitions, replicationFactor: 1 }], {
      validateOnly: false,
      defaults: { numPartitions: 1, replicationFactor: 1 },
      random: seeded(1),
    }),
  );
  return t;
}

/** An active controller over a scripted Raft, on one broker and a one-partition topic `a`. */
async function activeController() {
  const t = withTopicA(1);
  const committed = { image: t.image as MetadataImageView };
  const { raft, commitAll, proposals } = scriptedRaft(committed);
  const controller = new QuorumController({ raft, committed, replay: replayBatch, nowMs: () => t.nowMs });
  await controller.waitForActive(1000);
  return { committed, commitAll, proposals, controller };
}

describe('speculation', () => {
  it('replays proposed batches for later operations, offset commits only as an offset move', async () => {
    const t = withTopicA(2);
    const committed = { image: t.image as MetadataImageView };
    const base = committed.image.provenance.offset;
    const { raft, commitAll, proposals } = scriptedRaft(committed);
    const replayed: number[] = [];
    const controller = new QuorumController({
      raft,
      committed,
      replay: (image, batch, offset, epoch) => {
        replayed.push(batch.records.length);
        return replayBatch(image, batch, offset, epoch);
      },
      nowMs: () => t.nowMs,
    });
    await controller.waitForActive(1000);

    const seen: MetadataImageView[] = [];
    const commit = (offset: number) =>
      controller.run('commitOffsets', (image, now) => {
        seen.push(image);
        return h.commitOffsets(image, 'g', [{ topic: 'a', partition: 0, offset }], now);
      });
    const createB = controller.run('createTopics', (image) =>
      h.createTopics(image, [{ name: 'b', numPartitions: 1, replicationFactor: 1 }], {
        validateOnly: false,
        defaults: { numPartitions: 1, replicationFactor: 1 },
        random: seeded(2),
      }),
    );
    const first = [commit(1), commit(2)];
    const createdB = controller.run('commitOffsets', (image, now) =>
      h.commitOffsets(image, 'g', [{ topic: 'b', partition: 0, offset: 7 }], now),
    );
    const third = commit(3);
    await new Promise((r) => setImmediate(r));
    // The topic and the first commit went at once; the commits after it wait for it, gathered.
    expect(proposals).toHaveLength(2);

    // The topic's records were speculated; the commits were not, and the gathered ones do not move
    // the speculative offset until they are proposed.
    expect(replayed[0]).toBeGreaterThan(0);
    expect(replayed.slice(1)).toEqual([0]);
    expect(seen.map((img) => img.provenance.offset)).toEqual([base + 1, base + 2, base + 2]);
    for (const img of seen) expect(img.offsets.group('g')).toBeUndefined();

    commitAll();
    const [b] = await createB;
    expect(b!.errorCode).toBe(0);
    expect((await first[0]!)[0]!.errorCode).toBe(0);
    // The three gathered commits: one batch, proposed once the first settled.
    await new Promise((r) => setImmediate(r));
    expect(proposals.map((p) => decodeBatch(p.data).records.length)).toEqual([3]);
    commitAll();
    // A commit to a topic created by a batch still in flight was accepted (it saw the speculation).
    expect((await createdB)[0]!.errorCode).toBe(0);
    for (const r of [await first[1]!, await third]) expect(r[0]!.errorCode).toBe(0);
    expect(committed.image.offsets.group('g')!.get('a', 0)!.offset).toBe(3);
    expect(committed.image.offsets.group('g')!.get('b', 0)!.offset).toBe(7);
    controller.close();
  });

  it('gathered offset commits go before any later write, in queue order', async () => {
    const { committed, commitAll, proposals, controller } = await activeController();
    const commit = (offset: number) =>
      controller.run('commitOffsets', (image, now) =>
        h.commitOffsets(image, 'g', [{ topic: 'a', partition: 0, offset }], now),
      );
    const ops = [commit(1), commit(2), commit(3)];
    const deleted = controller.run('deleteOffsets', (image) => {
      // The commits are not speculated: the group shows only once they committed.
      expect(image.offsets.group('g')).toBeUndefined();
      return { records: [{ type: RecordType.OffsetDelete, version: 0, groupId: 'g' }], response: 'deleted' };
    });
    await new Promise((r) => setImmediate(r));
    // Commit 1 in flight, 2 and 3 gathered and proposed before the deletion that came after them.
    expect(proposals.map((p) => decodeBatch(p.data).records.map((r) => r.type))).toEqual([
      [RecordType.OffsetCommit],
      [RecordType.OffsetCommit, RecordType.OffsetCommit],
      [RecordType.OffsetDelete],
    ]);
    commitAll();
    await Promise.all([...ops, deleted]);
    expect(committed.image.offsets.group('g')).toBeUndefined();
    controller.close();
  });

  it('gathered offset commits never build an entry over 1 MiB', async () => {
    const { committed, commitAll, proposals, controller } = await activeController();
    // Each commit carries 4,000 bytes of metadata (Kafka's default limit is 4,096).
    const metadata = 'm'.repeat(4000);
    const ops = Array.from({ length: 401 }, (_, i) =>
      controller.run('commitOffsets', (image, now) =>
        h.commitOffsets(image, 'g', [{ topic: 'a', partition: 0, offset: i, metadata }], now),
      ),
    );
    const sizes: number[] = [];
    let records = 0;
    while (records < 401) {
      await new Promise((r) => setImmediate(r));
      for (const p of proposals) {
        sizes.push(p.data.length);
        records += decodeBatch(p.data).records.length;
      }
      commitAll();
    }
    expect(sizes.length).toBeGreaterThan(2);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(1024 * 1024);
    for (const r of await Promise.all(ops)) expect(r[0]!.errorCode).toBe(0);
    expect(committed.image.offsets.group('g')!.get('a', 0)!.offset).toBe(400);
    controller.close();
  });

  it('appends a large non-atomic result as several batches, other work running between them', async () => {
    const t = withTopicA(1);
    const committed = { image: t.image as MetadataImageView };
    const { raft, commitAll, proposals } = scriptedRaft(committed);
    let turns = 0;
    let leaderChange: ((c: { leaderId: number; term: number; role: string }) => void) | undefined;
    const controller = new QuorumController({
      raft: {
        ...raft,
        on: (_event, listener) => {
          leaderChange = listener;
        },
      },
      committed,
      replay: replayBatch,
      nowMs: () => t.nowMs,
      maxRecordsPerBatch: 3,
      yieldTurn: async () => {
        turns++;
        await new Promise((r) => setImmediate(r));
      },
    });
    await controller.waitForActive(1000);
    const noOps = (n: number) => Array.from({ length: n }, () => h.noOp()[0]!);
    const split = controller.run('fence', () => ({ records: noOps(7), response: 'done', atomic: false }));
    const after = controller.run('after', () => ({ records: noOps(1), response: 'after' }));
    const atomic = controller.run('atomic', () => ({ records: noOps(5), response: 'atomic' }));
    while (proposals.length < 5) await new Promise((r) => setImmediate(r));
    // 7 records in batches of 3, 3 and 1, a turn given before each later batch; the operations queued
    // behind come after the last; an atomic result is never split.
    expect(proposals.map((p) => decodeBatch(p.data).records.length)).toEqual([3, 3, 1, 1, 5]);
    expect(turns).toBe(2);
    commitAll();
    expect(await Promise.all([split, after, atomic])).toEqual(['done', 'after', 'atomic']);

    // Leadership lost between batches: the rest is not proposed and the caller hears of it.
    const lost = controller.run('fence', () => ({ records: noOps(7), response: 'done', atomic: false }));
    while (proposals.length < 1) await new Promise((r) => setImmediate(r));
    leaderChange!({ leaderId: 2, term: 2, role: 'follower' });
    commitAll();
    await expect(lost).rejects.toMatchObject({ code: 'NOT_CONTROLLER' });
    await new Promise((r) => setImmediate(r));
    expect(proposals).toHaveLength(0);
    controller.close();
  });
});
