/**
 * `runOnline` against the real controller handler (over a fake transport that can lose answers): a
 * batch whose answer is lost after it was applied, and one refused before, are both survived by asking
 * the metadata where the migration stands; nothing is applied twice or skipped.
 */
import type { Rpc } from '@kbroker/client';
import { MetadataImage, migrateBatch, RecordType, replayBatch } from '@kbroker/metadata-log';
import { describe, expect, it } from 'vitest';
import { runOnline } from '../src/migrate/apply.js';
import { parseLayout } from '../src/migrate/layout.js';
import { planMigration } from '../src/migrate/plan.js';
import { SourceTree } from '../src/migrate/source.js';

function source(topics: number): SourceTree {
  const t = new SourceTree('test');
  const stat = {
    version: 0,
    cversion: 0,
    numChildren: 0,
    czxid: '1',
    mzxid: '1',
    ephemeralOwner: '0',
    ctime: 1,
    mtime: 1,
  };
  const put = (path: string, data: unknown, children?: string[]) =>
    t.nodes.set(path, {
      data: data === null ? null : Buffer.from(JSON.stringify(data)),
      stat,
      ...(children === undefined ? {} : { children }),
    });
  put('/cluster/id', { version: '1', id: 'C' });
  const names = Array.from({ length: topics }, (_, i) => `t${i}`);
  put('/brokers/topics', null, names);
  for (const n of names) {
    put(`/brokers/topics/${n}`, { version: 1, partitions: { '0': [1] } });
    put(`/brokers/topics/${n}/partitions/0/state`, {
      version: 1,
      leader: 1,
      leader_epoch: 0,
      isr: [1],
      controller_epoch: 1,
    });
  }
  return t;
}

/** The controller, applying batches to an image; `lose(seq)` decides an answer's fate. */
function fakeCluster(lose: (seq: number, attempt: number) => 'ok' | 'lost-after' | 'fail-before') {
  let image = replayBatch(
    MetadataImage.EMPTY,
    { timestampMs: 1, records: [{ type: RecordType.Cluster, version: 0, clusterId: 'C' }] },
    1,
    1,
  );
  const attempts = new Map<number, number>();
  let applied = 0;
  const rpc: Rpc = {
    request: (async (api: string, body: Record<string, unknown>) => {
      if (api === 'migrationStatus')
        return { state: image.migration, clusterId: 'C', offset: image.provenance.offset };
      const seq = body.sequence as number;
      const attempt = (attempts.get(seq) ?? 0) + 1;
      attempts.set(seq, attempt);
      const fate = lose(seq, attempt);
      if (fate === 'fail-before')
        throw Object.assign(new Error('NOT_CONTROLLER'), { code: 'NOT_CONTROLLER' });
      const r = migrateBatch(image, body as never, 1);
      if (r.records.length > 0) {
        image = replayBatch(image, { timestampMs: 1, records: r.records }, image.provenance.offset + 1, 1);
        applied++;
      }
      if (fate === 'lost-after') throw Object.assign(new Error('timed out'), { code: 'REQUEST_TIMED_OUT' });
      return { applied: r.records.length > 0, state: image.migration, offset: image.provenance.offset };
    }) as Rpc['request'],
  };
  return { rpc, image: () => image, applied: () => applied };
}

describe('runOnline', () => {
  const plan = planMigration(parseLayout(source(40)), 4);

  it('writes every batch once, in order, with up to a window in flight', async () => {
    const c = fakeCluster(() => 'ok');
    const r = await runOnline(plan, c.rpc, { window: 3 });
    expect(r).toMatchObject({
      batchesWritten: plan.batches.length,
      resumedAt: 1,
      recordsWritten: plan.recordsTotal,
    });
    expect(c.applied()).toBe(plan.batches.length);
    expect(c.image().topics.topicCount).toBe(40);
    expect(c.image().migration).toMatchObject({ phase: 'migrated', recordsDone: plan.recordsTotal });
  });

  it('survives lost answers and refusals by re-reading the state: nothing twice, nothing skipped', async () => {
    const c = fakeCluster((seq, attempt) =>
      attempt > 1 ? 'ok' : seq === 3 ? 'lost-after' : seq === 7 ? 'fail-before' : 'ok',
    );
    const r = await runOnline(plan, c.rpc, { window: 4 });
    expect(c.applied()).toBe(plan.batches.length);
    expect(r.recordsWritten).toBe(plan.recordsTotal);
    expect(r.batchesWritten).toBe(plan.batches.length);
    expect(c.image().migration).toMatchObject({ phase: 'migrated', batchesDone: plan.batches.length });
    for (const t of c.image().topics.topics()) expect(t.assignmentVersion).toBe(0);
  });

  it('gives up after too many failures in a row', async () => {
    const c = fakeCluster(() => 'fail-before');
    await expect(runOnline(plan, c.rpc, { retries: 2 })).rejects.toThrow('NOT_CONTROLLER');
  });
});
