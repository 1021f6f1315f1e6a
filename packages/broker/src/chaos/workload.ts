/**
 * The chaos workload: concurrent clients, each with its own `Kbroker` client, doing
 * - register operations: committing a unique offset to one partition of group `chaos` on topic
 *   `registers` (one register per partition), and linearizable fetches of the whole group;
 * - topic operations: creating and deleting a few topic names, and linearizable listings.
 * Every invocation is recorded before it is sent and completed when it answers, with its outcome.
 *
 * The clients do not retry (retries: 0): each attempt is one operation of the history, so a retried
 * commit cannot hide behind one invocation. A failure is recorded as `fail` only when the request was
 * certainly not processed; a write whose fate is unclear is `unknown`.
 */
import { ConnectionError, Kbroker } from '@kbroker/client';
import { Rng } from '@kbroker/raft/testing';
import type { CreateTopicOp, DeleteTopicOp, HistoryOp, Outcome } from './history.js';

export const REGISTER_GROUP = 'chaos';
export const REGISTER_TOPIC = 'registers';

export interface WorkloadOptions {
  readonly seed: number;
  readonly brokers: readonly string[];
  readonly registerWorkers: number;
  readonly topicWorkers: number;
  readonly keys: number;
  readonly topicNames: readonly string[];
  /** The run's clock (ms since start). */
  readonly now: () => number;
  readonly requestTimeoutMs?: number;
}

/** Item-level error codes that say the controller did nothing (validation answers). */
const UNKNOWN_CODES = new Set(['REQUEST_TIMED_OUT', 'NOT_CONTROLLER', 'UNKNOWN_SERVER_ERROR']);

export class Workload {
  readonly history: HistoryOp[] = [];
  private running = false;
  private readonly clients: Kbroker[] = [];
  private loops: Promise<void>[] = [];
  private nextId = 0;

  constructor(private readonly opts: WorkloadOptions) {}

  private client(worker: number): Kbroker {
    const k = new Kbroker({
      brokers: this.opts.brokers,
      clientId: `chaos-worker-${worker}`,
      requestTimeoutMs: this.opts.requestTimeoutMs ?? 10_000,
      connectionTimeoutMs: 2_000,
      retry: { retries: 0 },
    });
    this.clients.push(k);
    return k;
  }

  start(): void {
    this.running = true;
    const rng = new Rng(this.opts.seed).fork('workload');
    for (let w = 0; w < this.opts.registerWorkers; w++)
      this.loops.push(this.registerLoop(w + 1, rng.fork(`w${w}`)));
    for (let w = 0; w < this.opts.topicWorkers; w++) {
      const id = this.opts.registerWorkers + w + 1;
      this.loops.push(this.topicLoop(id, rng.fork(`t${w}`)));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
    await Promise.all(this.clients.splice(0).map((c) => c.disconnect().catch(() => {})));
  }

  private begin<T extends HistoryOp>(op: Omit<T, 'id' | 'call' | 'ret' | 'outcome'>): T {
    const full = {
      ...op,
      id: this.nextId++,
      call: this.opts.now(),
      ret: null,
      outcome: null,
    } as unknown as T;
    this.history.push(full);
    return full;
  }

  private end(op: HistoryOp, outcome: Outcome, error?: unknown): void {
    op.ret = this.opts.now();
    op.outcome = outcome;
    if (error !== undefined) {
      const e = error as { code?: unknown; message?: unknown };
      op.error = `${String(e.code ?? 'ERROR')}: ${String(e.message ?? error)}`.slice(0, 300);
    }
  }

  /** A write's failure: `fail` only when the request never reached a node. */
  private static writeOutcome(err: unknown): Outcome {
    return err instanceof ConnectionError && !err.requestSent ? 'fail' : 'unknown';
  }

  private async pause(rng: Rng, failed: boolean): Promise<void> {
    // After a failure, back off a little (no hot loop against a dead node); otherwise just yield.
    const ms = failed ? rng.range(50, 300) : rng.range(0, 20);
    await new Promise((r) => setTimeout(r, ms));
  }

  private async registerLoop(worker: number, rng: Rng): Promise<void> {
    const client = this.client(worker);
    let seq = 0;
    while (this.running) {
      let failed = false;
      if (rng.chance(0.5)) {
        const key = rng.int(this.opts.keys);
        const value = worker * 10_000_000 + ++seq;
        const op = this.begin<HistoryOp & { kind: 'write' }>({ kind: 'write', worker, key, value });
        try {
          await client
            .offsets()
            .commit(REGISTER_GROUP, [{ topic: REGISTER_TOPIC, partition: key, offset: value }]);
          this.end(op, 'ok');
        } catch (err) {
          this.end(op, Workload.writeOutcome(err), err);
          failed = true;
        }
      } else {
        const op = this.begin<HistoryOp & { kind: 'read' }>({ kind: 'read', worker });
        try {
          const got = await client.offsets().fetch(REGISTER_GROUP, [REGISTER_TOPIC], { linearizable: true });
          const values: Record<string, number> = {};
          for (const o of got) if (o.topic === REGISTER_TOPIC) values[o.partition] = o.offset;
          op.values = values;
          this.end(op, 'ok');
        } catch (err) {
          this.end(op, 'fail', err);
          failed = true;
        }
      }
      await this.pause(rng, failed);
    }
  }

  /**
   * A topic creation or deletion: ok with `done` when the item succeeded, ok with `noop` when it answered
   * `noopCode` (already exists / does not exist), else failed or unknown. Returns whether it was ok.
   */
  private async topicWrite<T extends CreateTopicOp | DeleteTopicOp>(
    op: T,
    [done, noop]: readonly [NonNullable<T['result']>, NonNullable<T['result']>],
    noopCode: string,
    send: () => Promise<{ errorCode: number; error: string | null; errorMessage: string | null }>,
  ): Promise<boolean> {
    try {
      const item = await send();
      if (item.errorCode === 0 && item.error === null) op.result = done;
      else if (item.error === noopCode) op.result = noop;
      else {
        const outcome = UNKNOWN_CODES.has(item.error ?? '') ? 'unknown' : 'fail';
        this.end(op, outcome, { code: item.error, message: item.errorMessage });
        return false;
      }
      this.end(op, 'ok');
      return true;
    } catch (err) {
      this.end(op, Workload.writeOutcome(err), err);
      return false;
    }
  }

  private async topicLoop(worker: number, rng: Rng): Promise<void> {
    const client = this.client(worker);
    const rpc = client.rpc();
    while (this.running) {
      let failed = false;
      const roll = rng.float();
      const topic = rng.pick(this.opts.topicNames);
      if (roll < 0.35) {
        const op = this.begin<CreateTopicOp>({ kind: 'create', worker, topic });
        failed = !(await this.topicWrite(op, ['created', 'exists'], 'TOPIC_ALREADY_EXISTS', async () => {
          const res = await rpc.request('createTopics', {
            topics: [{ name: topic, numPartitions: 1, replicationFactor: 1 }],
          });
          return res.topics[0]!;
        }));
      } else if (roll < 0.7) {
        const op = this.begin<DeleteTopicOp>({ kind: 'delete', worker, topic });
        failed = !(await this.topicWrite(
          op,
          ['deleted', 'missing'],
          'UNKNOWN_TOPIC_OR_PARTITION',
          async () => {
            const res = await rpc.request('deleteTopics', { names: [topic] });
            return res.topics[0]!;
          },
        ));
      } else {
        const op = this.begin<HistoryOp & { kind: 'list' }>({ kind: 'list', worker });
        try {
          const res = await rpc.request('listTopics', { linearizable: true });
          op.topics = res.topics.map((t) => t.name);
          this.end(op, 'ok');
        } catch (err) {
          this.end(op, 'fail', err);
          failed = true;
        }
      }
      await this.pause(rng, failed);
    }
  }
}
