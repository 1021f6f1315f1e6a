/**
 * `kbroker migrate verify`: reads kbroker's ZooKeeper-compatible view and compares it with the source,
 * path by path, for every path the migration copied: JSON by value (topic assignments and ids, configs,
 * features, the cluster id), children sets (topics, partitions, a group's offsets), partition
 * leader/ISR/leader epoch/recovery state and partition epoch (the state znode's version), committed
 * offsets, and the controller epoch (kbroker's must be above the source's). Brokers listed in the
 * source that have not registered with kbroker yet are reported, not counted as differences.
 *
 * Once migrated, the partitions are kbroker's: its brokers expand ISRs, its controller elects leaders,
 * consumers commit. The migration writes each partition state, assignment and offset once, when it
 * creates it, so a znode whose version moved since (mzxid past czxid) was changed by kbroker after the
 * migration: it is counted as such, not compared with the source.
 */
import { MAX_READ_ZNODES, type Rpc, type ZnodeStat } from '@kbroker/client';
import type { KafkaLayout } from './layout.js';
import type { MigrationPlan } from './plan.js';

export interface Difference {
  readonly path: string;
  readonly reason: string;
}

export interface VerifyReport {
  /** Paths compared. */
  readonly paths: number;
  readonly differences: readonly Difference[];
  /** Source brokers not (yet) registered with kbroker. */
  readonly brokersNotRegistered: readonly number[];
  /** Topics the view has that the source does not (created in kbroker, not migrated). */
  readonly extraTopics: readonly string[];
  /** Migrated znodes kbroker changed after migrating them (not compared). */
  readonly changedSinceMigration: number;
  readonly sourceControllerEpoch: number;
  readonly kbrokerControllerEpoch: number | null;
}

const utf8 = new TextDecoder();

interface ZnodeData {
  readonly data: Uint8Array | null;
  readonly stat: ZnodeStat;
  readonly children?: readonly string[];
}

/**
 * Reads znodes in bulk: paths asked for in one turn go out together as `readZnodes` requests of up to
 * 2,000 paths (each answered from one snapshot of the node's tree), a few requests in flight.
 */
class ZnodeBatcher {
  private queue: {
    path: string;
    children: boolean;
    resolve(z: ZnodeData | undefined): void;
    reject(e: unknown): void;
  }[] = [];
  private scheduled = false;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly rpc: Rpc,
    private readonly minOffset: number | undefined,
    private readonly inFlight: number,
    private readonly onDone: (n: number) => void,
  ) {}

  get(path: string, children: boolean): Promise<ZnodeData | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ path, children, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.queue;
    this.queue = [];
    const size = Math.min(2_000, MAX_READ_ZNODES);
    for (const withChildren of [false, true]) {
      const items = all.filter((q) => q.children === withChildren);
      for (let i = 0; i < items.length; i += size) void this.send(items.slice(i, i + size), withChildren);
    }
  }

  private async send(items: typeof this.queue, children: boolean): Promise<void> {
    if (this.active >= this.inFlight) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      const request = () =>
        this.rpc.request('readZnodes', {
          paths: items.map((q) => q.path),
          ...(children ? { children: true } : {}),
          ...(this.minOffset === undefined ? {} : { minOffset: this.minOffset }),
        });
      // A node may refuse for a while (fenced, catching up): retriable refusals are retried.
      let res: Awaited<ReturnType<typeof request>> | undefined;
      for (let attempt = 1; res === undefined; attempt++) {
        try {
          res = await request();
        } catch (err) {
          if ((err as { retriable?: unknown }).retriable !== true || attempt >= 10) throw err;
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
      for (const [i, q] of items.entries()) q.resolve(res.znodes[i] ?? undefined);
      this.onDone(items.length);
    } catch (err) {
      for (const q of items) q.reject(err);
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

function parse(d: ZnodeData): unknown {
  if (d.data === null) return null;
  try {
    return JSON.parse(utf8.decode(d.data));
  } catch {
    return undefined;
  }
}

const show = (v: unknown) => JSON.stringify(v);

function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameRecord(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return sameList(ka, kb) && ka.every((k) => a[k] === b[k]);
}

export async function verifyMigration(
  layout: KafkaLayout,
  plan: MigrationPlan,
  rpc: Rpc,
  options: { inFlight?: number; minOffset?: number; onProgress?: (paths: number) => void } = {},
): Promise<VerifyReport> {
  const differences: Difference[] = [];
  const diff = (path: string, reason: string) => differences.push({ path, reason });
  let paths = 0;
  const fetcher = new ZnodeBatcher(rpc, options.minOffset, options.inFlight ?? 4, (n) => {
    paths += n;
    options.onProgress?.(paths);
  });
  const data = (path: string) => fetcher.get(path, false);
  const children = async (path: string) => (await fetcher.get(path, true))?.children;
  /** Compares a view znode's parsed JSON with `check`, reporting a missing or non-JSON node. */
  const json = async (path: string, check: (v: Record<string, unknown>, d: ZnodeData) => void) => {
    const d = await data(path);
    if (d === undefined) return diff(path, 'missing in kbroker');
    const v = parse(d);
    if (typeof v !== 'object' || v === null) return diff(path, `kbroker's data is not a JSON object`);
    check(v as Record<string, unknown>, d);
  };

  const tasks: Promise<unknown>[] = [];
  let changedSince = 0;
  /** Written once by the migration and changed since (by kbroker's brokers or controller)? */
  const movedOn = (d: ZnodeData) => {
    if (d.stat.version === 0) return false;
    changedSince++;
    return true;
  };

  // The cluster id and the controller epoch.
  tasks.push(
    json('/cluster/id', (v) => {
      if (v.id !== layout.clusterId)
        diff('/cluster/id', `id ${show(v.id)} in kbroker, ${show(layout.clusterId)} in the source`);
    }),
  );
  let kbrokerEpoch: number | null = null;
  tasks.push(
    data('/controller_epoch').then((d) => {
      if (d === undefined || d.data === null) return diff('/controller_epoch', 'missing in kbroker');
      kbrokerEpoch = Number(utf8.decode(d.data));
      if (!(kbrokerEpoch > layout.controllerEpoch)) {
        diff(
          '/controller_epoch',
          `kbroker's epoch ${kbrokerEpoch} is not above the source's ${layout.controllerEpoch}`,
        );
      }
    }),
  );

  // Brokers expected to register.
  const brokersNotRegistered: number[] = [];
  tasks.push(
    children('/brokers/ids').then((ids) => {
      const live = new Set(ids ?? []);
      for (const b of layout.brokers) if (!live.has(String(b.id))) brokersNotRegistered.push(b.id);
    }),
  );

  // Topics: the children set, each assignment and id, partitions, states, configs.
  const extraTopics: string[] = [];
  tasks.push(
    children('/brokers/topics').then((names) => {
      const view = new Set(names ?? []);
      const source = new Set(layout.topics.map((t) => t.name));
      for (const t of source) if (!view.has(t)) diff('/brokers/topics', `topic ${t} missing in kbroker`);
      for (const t of view) if (!source.has(t)) extraTopics.push(t);
    }),
  );
  for (const t of layout.topics) {
    const path = `/brokers/topics/${t.name}`;
    const id = plan.topicIds.get(t.name);
    tasks.push(
      json(path, (v, d) => {
        if (v.topic_id !== id) diff(path, `topic_id ${show(v.topic_id)} in kbroker, ${show(id)} expected`);
        if (movedOn(d)) return;
        const parts = (v.partitions ?? {}) as Record<string, unknown>;
        const keys = Object.keys(parts);
        if (keys.length !== t.partitions.length) {
          diff(path, `${keys.length} partitions in kbroker, ${t.partitions.length} in the source`);
        }
        for (const p of t.partitions) {
          const r = parts[String(p.id)];
          if (!Array.isArray(r) || !sameList(r, p.replicas))
            diff(path, `partition ${p.id} replicas ${show(r)} in kbroker, ${show(p.replicas)} in the source`);
        }
      }),
    );
    tasks.push(
      children(`${path}/partitions`).then((names) => {
        const want = t.partitions.map((p) => String(p.id)).sort();
        const got = [...(names ?? [])].sort();
        if (!sameList(got, want))
          diff(`${path}/partitions`, `children ${show(got)} in kbroker, ${show(want)} in the source`);
      }),
    );
    for (const p of t.partitions) {
      const sp = `${path}/partitions/${p.id}/state`;
      tasks.push(
        json(sp, (v, d) => {
          if (d.stat.mzxid !== d.stat.czxid) {
            changedSince++;
            return;
          }
          const isr = Array.isArray(v.isr) ? v.isr : [];
          const lrs = v.leader_recovery_state ?? 0;
          if (v.leader !== p.leader)
            diff(sp, `leader ${show(v.leader)} in kbroker, ${p.leader} in the source`);
          if (v.leader_epoch !== p.leaderEpoch)
            diff(sp, `leader_epoch ${show(v.leader_epoch)} in kbroker, ${p.leaderEpoch} in the source`);
          if (!sameList(isr, p.isr)) diff(sp, `isr ${show(v.isr)} in kbroker, ${show(p.isr)} in the source`);
          if (lrs !== p.leaderRecoveryState)
            diff(sp, `leader_recovery_state ${show(lrs)} in kbroker, ${p.leaderRecoveryState} in the source`);
          if (d.stat.version !== p.partitionEpoch)
            diff(
              sp,
              `partition epoch (version) ${d.stat.version} in kbroker, ${p.partitionEpoch} in the source`,
            );
        }),
      );
    }
    const cp = `/config/topics/${t.name}`;
    const want = layout.topicConfigs.get(t.name) ?? {};
    tasks.push(
      json(cp, (v) => {
        const got = (v.config ?? {}) as Record<string, unknown>;
        if (!sameRecord(got, want)) diff(cp, `config ${show(got)} in kbroker, ${show(want)} in the source`);
      }),
    );
  }

  // Broker configs (including <default>).
  for (const [entity, want] of layout.brokerConfigs) {
    const cp = `/config/brokers/${entity}`;
    tasks.push(
      json(cp, (v) => {
        const got = (v.config ?? {}) as Record<string, unknown>;
        if (!sameRecord(got, want)) diff(cp, `config ${show(got)} in kbroker, ${show(want)} in the source`);
      }),
    );
  }

  // Consumer offsets: each value, and each topic's set of partitions.
  const byTopic = new Map<string, string[]>();
  for (const o of layout.offsets) {
    const tp = `/consumers/${o.group}/offsets/${o.topic}`;
    const list = byTopic.get(tp) ?? [];
    list.push(String(o.partition));
    byTopic.set(tp, list);
    const path = `${tp}/${o.partition}`;
    tasks.push(
      data(path).then((d) => {
        if (d === undefined) return diff(path, 'missing in kbroker');
        if (movedOn(d)) return;
        const got = d.data === null ? null : utf8.decode(d.data);
        if (got !== String(o.offset)) diff(path, `offset ${show(got)} in kbroker, ${o.offset} in the source`);
      }),
    );
  }
  for (const [tp, want] of byTopic) {
    tasks.push(
      children(tp).then((names) => {
        const got = [...(names ?? [])].sort();
        const w = [...want].sort();
        if (!sameList(got, w)) diff(tp, `children ${show(got)} in kbroker, ${show(w)} in the source`);
      }),
    );
  }

  // Feature levels.
  if (layout.features.size > 0) {
    tasks.push(
      json('/feature', (v) => {
        const f = (v.features ?? {}) as Record<string, { max_version_level?: unknown }>;
        for (const [name, level] of layout.features) {
          if (f[name]?.max_version_level !== level)
            diff(
              '/feature',
              `feature ${name} at ${show(f[name]?.max_version_level)} in kbroker, ${level} in the source`,
            );
        }
      }),
    );
  }

  await Promise.all(tasks);
  differences.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    paths,
    differences,
    brokersNotRegistered: brokersNotRegistered.sort((a, b) => a - b),
    extraTopics: extraTopics.sort(),
    changedSinceMigration: changedSince,
    sourceControllerEpoch: layout.controllerEpoch,
    kbrokerControllerEpoch: kbrokerEpoch,
  };
}
