/**
 * ZooKeeper sessions kept by the controller on three real Raft nodes: creation, take-over by another
 * owner, password checks, liveness reports, expiry, closing, failover, and snapshots.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { formatSessionId, ZkSessionTracker } from '../src/controller/zk-sessions.js';
import { diffImages, MetadataDelta, MetadataImage } from '../src/image/metadata-image.js';
import { RecordType } from '../src/records.js';
import { replayBatch } from '../src/replay.js';
import { readSnapshot, writeSnapshot } from '../src/snapshot.js';
import { ControllerCluster } from './helpers/raft-cluster.js';

let cluster: ControllerCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('ZooKeeper sessions in the controller', () => {
  it('creates, moves, keeps alive, expires and closes sessions; every node agrees', async () => {
    cluster = new ControllerCluster(3, { noOpIntervalMs: 0, preferredElectionIntervalMs: 0 });
    await cluster.start();
    const c = await cluster.active();
    const a = await c.createZkSession({ ownerId: 1, timeoutMs: 6000 });
    const b = await c.createZkSession({ ownerId: 2, timeoutMs: 4000 });
    expect(a.sessionId).toMatch(/^[0-9a-f]{16}$/);
    expect(a.password).toMatch(/^[0-9a-f]{32}$/);
    expect(b.sessionId).not.toBe(a.sessionId);
    expect(b.password).not.toBe(a.password);
    expect(b.offset).toBeGreaterThan(a.offset);

    // A wrong password or an unknown id is refused without writing anything.
    const before = (await cluster.converged())[0]!.provenance.offset;
    expect(
      await c.attachZkSession({ sessionId: a.sessionId, password: b.password, ownerId: 3, timeoutMs: 6000 }),
    ).toMatchObject({ valid: false });
    expect(
      await c.attachZkSession({
        sessionId: formatSessionId(999n),
        password: a.password,
        ownerId: 3,
        timeoutMs: 6000,
      }),
    ).toMatchObject({ valid: false });
    expect((await cluster.converged())[0]!.provenance.offset).toBe(before);

    // The right password moves the session to its new owner, with the newly negotiated timeout.
    expect(
      await c.attachZkSession({ sessionId: a.sessionId, password: a.password, ownerId: 3, timeoutMs: 8000 }),
    ).toMatchObject({ valid: true });
    let images = await cluster.converged();
    for (const img of images) {
      expect(img.zkSessions.get(a.sessionId)).toEqual({
        id: a.sessionId,
        password: a.password,
        timeoutMs: 8000,
        ownerId: 3,
      });
      expect(img.zkSessions.count).toBe(2);
    }

    // 5 s pass with only `a` reported: `b` (4 s) expires, `a` (8 s) lives.
    cluster.nowMs += 3000;
    expect(await c.zkSessionHeartbeat([a.sessionId, formatSessionId(12n)])).toEqual({
      unknown: [formatSessionId(12n)],
    });
    cluster.nowMs += 2000;
    await c.tick();
    images = await cluster.converged();
    for (const img of images) {
      expect(img.zkSessions.get(b.sessionId)).toBeUndefined();
      expect(img.zkSessions.get(a.sessionId)).toBeDefined();
    }
    // Expired is final: its password no longer attaches.
    expect(
      await c.attachZkSession({ sessionId: b.sessionId, password: b.password, ownerId: 2, timeoutMs: 4000 }),
    ).toMatchObject({ valid: false });

    await c.closeZkSession(a.sessionId);
    images = await cluster.converged();
    for (const img of images) expect(img.zkSessions.count).toBe(0);
    // Closing again is harmless.
    await c.closeZkSession(a.sessionId);
  });

  it('a new controller gives every session a full timeout from its activation', async () => {
    cluster = new ControllerCluster(3, { noOpIntervalMs: 0, preferredElectionIntervalMs: 0 });
    await cluster.start();
    const c = await cluster.active();
    const s = await c.createZkSession({ ownerId: 1, timeoutMs: 4000 });
    await cluster.converged();
    const leader = cluster.running().find((n) => n.controller!.isActive())!;
    // Long past the session's deadline at the old controller, which is now gone.
    cluster.nowMs += 60_000;
    await cluster.killNode(leader.id);
    const next = await cluster.active();
    await next.tick();
    let [img] = await cluster.converged();
    expect(img!.zkSessions.get(s.sessionId)).toBeDefined();
    // Ids chosen by the new controller (a new term) never collide with the old ones.
    const t = await next.createZkSession({ ownerId: 2, timeoutMs: 4000 });
    expect(t.sessionId).not.toBe(s.sessionId);
    cluster.nowMs += 4001;
    await next.tick();
    [img] = await cluster.converged();
    expect(img!.zkSessions.count).toBe(0);
  });

  it('refuses bad timeouts', async () => {
    cluster = new ControllerCluster(1, { noOpIntervalMs: 0, preferredElectionIntervalMs: 0 });
    await cluster.start();
    const c = await cluster.active();
    for (const timeoutMs of [0, -1, 1.5, Number.NaN]) {
      await expect(c.createZkSession({ ownerId: 1, timeoutMs })).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
      });
    }
  });
});

describe('ZooKeeper sessions in the image', () => {
  const session = (n: number, ownerId: number) => ({
    type: RecordType.ZkSession,
    version: 0 as const,
    sessionId: formatSessionId(BigInt(n)),
    password: 'ab'.repeat(16),
    timeoutMs: 1000 * n,
    ownerId,
  });

  it('reports creations, moves and ends as changes, and survives a snapshot', async () => {
    let image = replayBatch(
      MetadataImage.EMPTY,
      { timestampMs: 1, records: [session(1, 1), session(2, 1)] },
      1,
      1,
    );
    const delta = new MetadataDelta(image);
    delta.replayBatch(
      {
        timestampMs: 2,
        records: [
          session(1, 2),
          session(2, 1),
          { type: RecordType.ZkSessionEnd, version: 0, sessionId: formatSessionId(2n), reason: 'expired' },
          session(4, 3),
        ],
      },
      2,
      1,
    );
    image = delta.apply();
    expect(delta.changes()).toEqual([
      { kind: 'zk-session', sessionId: formatSessionId(1n), ownerId: 2 },
      { kind: 'zk-session-ended', sessionId: formatSessionId(2n), reason: 'expired' },
      { kind: 'zk-session', sessionId: formatSessionId(4n), ownerId: 3 },
    ]);
    // Between unrelated images the order is the trie's, not the log's.
    const diff = diffImages(MetadataImage.EMPTY, image) as { sessionId: string }[];
    expect(diff.sort((x, y) => x.sessionId.localeCompare(y.sessionId))).toEqual([
      { kind: 'zk-session', sessionId: formatSessionId(1n), ownerId: 2 },
      { kind: 'zk-session', sessionId: formatSessionId(4n), ownerId: 3 },
    ]);
    expect(image.zkSessions.count).toBe(2);
    expect(image.zkSessions.get(formatSessionId(1n))?.ownerId).toBe(2);

    const chunks = [...writeSnapshot(image)];
    const loaded = await readSnapshot(
      (async function* () {
        yield* chunks;
      })(),
    );
    expect(loaded.equals(image)).toBe(true);
    expect(loaded.zkSessions.get(formatSessionId(1n))).toEqual(image.zkSessions.get(formatSessionId(1n)));
  });

  it('the tracker expires by each session’s own timeout and forgets sessions the image lost', () => {
    const image = replayBatch(
      MetadataImage.EMPTY,
      { timestampMs: 1, records: [session(1, 1), session(3, 1)] },
      1,
      1,
    );
    const t = new ZkSessionTracker();
    t.restart(image, 0);
    expect(t.expired(image, 999)).toEqual([]);
    expect(t.expired(image, 1000)).toEqual([formatSessionId(1n)]);
    t.touch(image, [formatSessionId(1n)], 1000);
    expect(t.expired(image, 1999)).toEqual([]);
    expect(t.expired(image, 3000).sort()).toEqual([formatSessionId(1n), formatSessionId(3n)]);
    t.heard(formatSessionId(7n), 10, 0);
    expect(t.expired(image, 3000)).not.toContain(formatSessionId(7n));
    expect(t.size).toBe(2);
  });
});
