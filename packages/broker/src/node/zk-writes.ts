/**
 * Admin writes to the ZooKeeper-compatible view, as ZooKeeper-era Kafka tools made them, mapped to
 * controller operations:
 *
 * | ZooKeeper write                                   | controller operation                       |
 * | ------------------------------------------------- | ------------------------------------------ |
 * | create `/brokers/topics/<t>` (assignment JSON)    | createTopics, manual assignment (-1, -1)   |
 * | create `/admin/delete_topics/<t>`                 | deleteTopics                               |
 * | setData `/config/topics/<t>` (`{"config":{..}}`)  | alterConfigs: set given keys, delete gone  |
 * | create `/admin/preferred_replica_election`        | electLeaders preferred (all when absent)   |
 * | create/setData `/consumers/<g>/offsets/<t>/<p>`   | commitOffsets (data: ASCII decimal)        |
 *
 * ZooKeeper's preconditions are checked against the snapshot the client reads, for every write, mapped
 * or not, in PrepRequestProcessor's order: creating an existing znode is NODEEXISTS, a missing parent
 * NONODE, a child of an ephemeral NOCHILDRENFOREPHEMERALS; setData, delete and setACL of a missing znode
 * NONODE; an expected version other than -1 that differs from the znode's stat.version BADVERSION; a
 * delete of a znode with children NOTEMPTY. A deletion marker for a topic that does not exist is taken
 * (ZooKeeper would take it, and Kafka's controller drop it). The parents of a consumer
 * offset znode only show while the group has commits, so they are implicit: an offset may be created
 * without them, and creating one of them answers NODEEXISTS (so `mkdirp`-style clients go on).
 *
 * Controller errors map to ZooKeeper codes: TOPIC_ALREADY_EXISTS -> NODEEXISTS; UNKNOWN_TOPIC_* and
 * GROUP_ID_NOT_FOUND -> NONODE; invalid input (INVALID_*, POLICY_VIOLATION, ...) -> BADARGUMENTS;
 * authorization failures -> NOAUTH; retriable errors (NOT_CONTROLLER, timeouts, dropped proposals,
 * connection errors) -> CONNECTIONLOSS, ZooKeeper's "outcome unknown, retry", which Kafka's ZooKeeper
 * client retries; anything else -> SYSTEMERROR. Every other write gets `refusedError` (the server's
 * default refusal, UNIMPLEMENTED) and the reason goes to the server's log.
 *
 * A successful write answers with the zxid of the metadata offset the controller reported after the
 * write, so the server replies once the local tree shows it.
 *
 * Offset commits are group-committed: while one commitOffsets call of a group is on its way to the
 * controller, the group's further offset writes on this node wait and then go together as the next
 * call (one controller operation, one Raft entry, up to `maxCommitBatch` partitions). Nothing waits
 * when the group has no call in flight, so a lone client pays no extra latency; two writes of the same
 * partition never share a call, so they commit in the order they came. Each write still gets its own
 * answer (its partition's result, the batch's zxid).
 *
 * When a call comes back, the next one first gathers: it waits (at most `commitGatherMs`) until its
 * batch holds as many writes as were waiting when the call came back plus those the call answered. A
 * ZooKeeper-era consumer commits again soon after its answer, so without that wait the writers split
 * into two halves taking turns (one half in flight, the other waiting), each call carrying half of
 * them: twice the calls, Raft entries, fsyncs and applies per commit, for the same latency. The wait
 * ends as soon as the writers are back (a lone writer's next write goes at once), and it counts
 * writes, not writers: consumers committing now and then end it as soon as as many writes came as
 * the last call carried. Under load the answers reach a busy client process one by one, and its
 * writes come back over several ms: with 256 looping writers on a loaded 2-core machine a 5 ms bound
 * gathered so few that the nodes spent ~30% more CPU per commit than with 30 ms (A/B runs of
 * scripts/perf/commit-load.mjs). The price is latency for writes that arrive faster than they are
 * answered without being the same writers (an open stream rather than a loop): each call then waits
 * the whole bound, like a producer's linger.ms; 30 ms is small beside the 5 s Kafka lets an offset
 * commit take (offsets.commit.timeout.ms).
 */
import {
  type ApiName,
  type ApiRequest,
  type ApiResponse,
  IDEMPOTENT_APIS,
  type ItemResult,
} from '@kbroker/client/protocol';
import {
  ErrorCode,
  statOf,
  type WriteContext,
  type WriteHandler,
  type WriteOp,
  type WriteResult,
  type ZnodeTreeSnapshot,
  zxidOf,
} from '@kbroker/zk-view';
import type { Logger } from 'pino';

export type ControllerCall = <A extends ApiName>(api: A, body: ApiRequest<A>) => Promise<ApiResponse<A>>;

export interface ZkAdminWritesOptions {
  /** A controller API called by this node (run locally on the active controller, or forwarded). */
  readonly call: ControllerCall;
  readonly logger?: Logger;
  /** The code for writes that map to nothing (default UNIMPLEMENTED, the server's own refusal). */
  readonly refusedError?: number;
  /** How long NOT_CONTROLLER is retried for idempotent operations (default 5000 ms). */
  readonly retryForMs?: number;
  /** Most partitions in one group-committed commitOffsets call (default 1000). */
  readonly maxCommitBatch?: number;
  /**
   * Longest wait of a group's next commitOffsets call for the writers the last one answered (default
   * 30 ms; 0: no gathering, see the module comment).
   */
  readonly commitGatherMs?: number;
}

interface OffsetEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** Offset writes of one group that go to the controller as one commitOffsets call. */
interface CommitBatch {
  readonly offsets: OffsetEntry[];
  readonly keys: Set<string>;
  readonly waiters: { resolve(r: { item: ItemResult; offset: number }): void; reject(err: unknown): void }[];
}

/** A group's offset writes on this node: the batches waiting, in order. */
interface CommitQueue {
  /** Whether a call is in flight (or about to be sent). */
  sending: boolean;
  readonly batches: CommitBatch[];
  /** While the next call gathers: the writes it waits for, and how to end the wait. */
  gather?: { readonly want: number; readonly done: () => void };
}

/** A write refused with a ZooKeeper code and why. */
class ZkRefusal extends Error {
  constructor(
    readonly code: number,
    reason: string,
  ) {
    super(reason);
  }
}

const refuse = (code: number, reason: string): never => {
  throw new ZkRefusal(code, reason);
};

const NOT_FOUND = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_ID', 'GROUP_ID_NOT_FOUND']);
const BAD_INPUT = new Set([
  'INVALID_REQUEST',
  'INVALID_CONFIG',
  'INVALID_PARTITIONS',
  'INVALID_REPLICATION_FACTOR',
  'INVALID_REPLICA_ASSIGNMENT',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_GROUP_ID',
  'OFFSET_METADATA_TOO_LARGE',
  'POLICY_VIOLATION',
  'BROKER_NOT_AVAILABLE',
]);
const NO_AUTH = new Set(['TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED']);
const RETRIABLE = new Set([
  'NOT_CONTROLLER',
  'NOT_LEADER',
  'PROPOSAL_DROPPED',
  'REQUEST_TIMED_OUT',
  'TOO_MANY_REQUESTS',
  'CONNECTION_ERROR',
  'TIMEOUT',
]);

/** The ZooKeeper code for a controller error name (see the module comment). */
export function zkErrorOf(code: string | null | undefined, retriable = false): number {
  if (code === 'TOPIC_ALREADY_EXISTS') return ErrorCode.NODEEXISTS;
  if (code != null && NOT_FOUND.has(code)) return ErrorCode.NONODE;
  if (code != null && BAD_INPUT.has(code)) return ErrorCode.BADARGUMENTS;
  if (code != null && NO_AUTH.has(code)) return ErrorCode.NOAUTH;
  if (retriable || (code != null && RETRIABLE.has(code))) return ErrorCode.CONNECTIONLOSS;
  return ErrorCode.SYSTEMERROR;
}

const segments = (path: string): string[] => (path === '/' ? [] : path.slice(1).split('/'));
const parentOf = (path: string): string => {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
};

function parseJson(data: Uint8Array | null, what: string): Record<string, unknown> {
  if (data === null || data.length === 0) return refuse(ErrorCode.BADARGUMENTS, `${what}: no data`);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return refuse(ErrorCode.BADARGUMENTS, `${what}: data is not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return refuse(ErrorCode.BADARGUMENTS, `${what}: data is not a JSON object`);
  return v as Record<string, unknown>;
}

const isBrokerId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** `{"version":1|2|3,"partitions":{"0":[1,2],...}}` -> the manual assignment. */
function parseAssignment(data: Uint8Array | null, topic: string) {
  const what = `/brokers/topics/${topic}`;
  const j = parseJson(data, what);
  if (j.version !== 1 && j.version !== 2 && j.version !== 3)
    refuse(ErrorCode.BADARGUMENTS, `${what}: unsupported version ${JSON.stringify(j.version)}`);
  const parts = j.partitions;
  if (typeof parts !== 'object' || parts === null || Array.isArray(parts))
    return refuse(ErrorCode.BADARGUMENTS, `${what}: "partitions" must be an object`);
  for (const key of ['adding_replicas', 'removing_replicas']) {
    const v = j[key];
    if (v !== undefined && (typeof v !== 'object' || v === null || Object.keys(v).length > 0))
      refuse(ErrorCode.BADARGUMENTS, `${what}: a new topic cannot have ${key}`);
  }
  const assignments: { partitionIndex: number; brokerIds: number[] }[] = [];
  for (const [k, replicas] of Object.entries(parts)) {
    if (!/^(0|[1-9]\d*)$/.test(k)) refuse(ErrorCode.BADARGUMENTS, `${what}: bad partition id ${k}`);
    if (!Array.isArray(replicas) || !replicas.every(isBrokerId))
      refuse(ErrorCode.BADARGUMENTS, `${what}: partition ${k} replicas must be broker ids`);
    assignments.push({ partitionIndex: Number(k), brokerIds: replicas as number[] });
  }
  if (assignments.length === 0) refuse(ErrorCode.BADARGUMENTS, `${what}: no partitions`);
  return assignments.sort((a, b) => a.partitionIndex - b.partitionIndex);
}

/** `{"version":1,"config":{...}}` -> the config map (string values, as Kafka writes them). */
function parseConfig(data: Uint8Array | null, what: string): Record<string, string> {
  const j = parseJson(data, what);
  const config = j.config ?? {};
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    return refuse(ErrorCode.BADARGUMENTS, `${what}: "config" must be an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else refuse(ErrorCode.BADARGUMENTS, `${what}: config ${k} must be a string`);
  }
  return out;
}

/** `{"version":1,"partitions":[{"topic":..,"partition":..}]}` -> the partitions (undefined: all). */
function parseElection(data: Uint8Array | null) {
  const what = '/admin/preferred_replica_election';
  if (data === null || data.length === 0) return undefined;
  if (Buffer.from(data).toString('utf8').trim() === 'null') return undefined;
  const j = parseJson(data, what);
  if (j.partitions === undefined) return undefined;
  if (!Array.isArray(j.partitions))
    return refuse(ErrorCode.BADARGUMENTS, `${what}: "partitions" must be a list`);
  const byTopic = new Map<string, number[]>();
  for (const p of j.partitions as unknown[]) {
    const tp = p as { topic?: unknown; partition?: unknown } | null;
    if (typeof tp?.topic !== 'string' || !isBrokerId(tp.partition))
      refuse(ErrorCode.BADARGUMENTS, `${what}: each entry needs a topic and a partition`);
    const list = byTopic.get(tp!.topic as string) ?? [];
    list.push(tp!.partition as number);
    byTopic.set(tp!.topic as string, list);
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

function parseOffset(data: Uint8Array | null, what: string): number {
  const s = data === null ? '' : Buffer.from(data).toString('ascii').trim();
  if (!/^(0|[1-9]\d*)$/.test(s))
    return refuse(ErrorCode.BADARGUMENTS, `${what}: data must be an ASCII decimal offset`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) refuse(ErrorCode.BADARGUMENTS, `${what}: offset out of range`);
  return n;
}

/** Throws the failure of the first failed item, if any. */
function checkItems(items: readonly ItemResult[], ignore: ReadonlySet<string> = new Set()): void {
  for (const item of items) {
    if (item.errorCode === 0 || (item.error !== null && ignore.has(item.error))) continue;
    refuse(zkErrorOf(item.error), `${item.error ?? item.errorCode}: ${item.errorMessage ?? ''}`);
  }
}

/** The WriteHandler of a node's ZooKeeper view (see the module comment). */
export class ZkAdminWrites implements WriteHandler {
  private readonly refusedError: number;
  private readonly retryForMs: number;
  private readonly maxCommitBatch: number;
  private readonly commitGatherMs: number;
  /** Per group: the batches waiting, and whether a call is in flight. */
  private readonly commitQueues = new Map<string, CommitQueue>();

  constructor(private readonly options: ZkAdminWritesOptions) {
    this.refusedError = options.refusedError ?? ErrorCode.UNIMPLEMENTED;
    this.retryForMs = options.retryForMs ?? 5000;
    this.maxCommitBatch = options.maxCommitBatch ?? 1000;
    this.commitGatherMs = options.commitGatherMs ?? 30;
  }

  async write(ops: readonly WriteOp[], ctx: WriteContext): Promise<WriteResult> {
    // A multi may carry checks plus one write: more than one write could not be applied atomically.
    const writes = ops.filter((o) => o.op !== 'check');
    if (writes.length > 1) {
      return {
        ok: false,
        error: this.refusedError,
        failedIndex: ops.indexOf(writes[1]!),
        reason: 'a multi with more than one write cannot be applied atomically',
      };
    }
    let index = 0;
    try {
      for (; index < ops.length; index++) {
        const op = ops[index]!;
        if (op.op === 'check') this.check(op.path, op.version, ctx.snapshot);
      }
      const op = writes[0];
      if (op === undefined) return { ok: true, zxid: ctx.snapshot.zxid };
      index = ops.indexOf(op);
      const zxid = await this.apply(op, ctx.snapshot);
      return { ok: true, zxid };
    } catch (err) {
      const code = err instanceof ZkRefusal ? err.code : ErrorCode.SYSTEMERROR;
      const reason = err instanceof Error ? err.message : String(err);
      if (!(err instanceof ZkRefusal)) this.options.logger?.warn({ err }, 'zk admin write failed');
      return { ok: false, error: code, reason, ...(ctx.multi ? { failedIndex: index } : {}) };
    }
  }

  private check(path: string, version: number, snapshot: ZnodeTreeSnapshot): void {
    const stat = statOf(snapshot, path);
    if (stat === undefined) refuse(ErrorCode.NONODE, `${path} does not exist`);
    if (version !== -1 && stat!.version !== version)
      refuse(ErrorCode.BADVERSION, `${path} is at version ${stat!.version}, not ${version}`);
  }

  private async apply(op: WriteOp, snapshot: ZnodeTreeSnapshot): Promise<bigint> {
    const s = segments(op.path);
    const unsupported = (): never =>
      refuse(this.refusedError, `${op.op} ${op.path} maps to no Kafka admin operation`);

    if (op.op === 'create') {
      if (op.flags !== 0) refuse(this.refusedError, `${op.path}: Kafka's admin writes are persistent znodes`);
      const consumerOffset = s.length === 5 && s[0] === 'consumers' && s[2] === 'offsets';
      const consumerParent =
        s[0] === 'consumers' && s.length >= 2 && s.length <= 4 && (s.length < 3 || s[2] === 'offsets');
      if (snapshot.get(op.path) !== undefined) refuse(ErrorCode.NODEEXISTS, `${op.path} exists`);
      if (consumerParent)
        refuse(ErrorCode.NODEEXISTS, `${op.path} is implicit (it shows once the group has commits)`);
      const parent = snapshot.get(parentOf(op.path));
      if (!consumerOffset && parent === undefined)
        refuse(ErrorCode.NONODE, `${parentOf(op.path)} does not exist`);
      if (parent !== undefined && parent.stat.ephemeralOwner !== 0n)
        refuse(ErrorCode.NOCHILDRENFOREPHEMERALS, `${parentOf(op.path)} is ephemeral`);
      if (s.length === 3 && s[0] === 'brokers' && s[1] === 'topics') return this.createTopic(s[2]!, op.data);
      if (s.length === 3 && s[0] === 'admin' && s[1] === 'delete_topics')
        return this.deleteTopic(s[2]!, snapshot);
      if (s.length === 2 && s[0] === 'admin' && s[1] === 'preferred_replica_election')
        return this.electPreferred(op.data);
      if (consumerOffset) return this.commit(s, op.data, op.path);
      return unsupported();
    }
    if (op.op === 'setData') {
      const isConfig = s.length === 3 && s[0] === 'config' && s[1] === 'topics';
      const isOffset = s.length === 5 && s[0] === 'consumers' && s[2] === 'offsets';
      // ZooKeeper's preconditions first (NONODE, BADVERSION): only a write it would make is refused.
      this.check(op.path, op.version, snapshot);
      if (!isConfig && !isOffset) return unsupported();
      if (isConfig)
        return this.alterTopicConfig(s[2]!, op.data, snapshot.get(op.path)!.data, op.path, snapshot);
      return this.commit(s, op.data, op.path);
    }
    if (op.op === 'delete' || op.op === 'setACL') {
      // PrepRequestProcessor's order: NONODE, BADVERSION, then (delete) NOTEMPTY.
      this.check(op.path, op.op === 'setACL' ? -1 : op.version, snapshot);
      if (op.op === 'delete' && statOf(snapshot, op.path)!.numChildren > 0)
        refuse(ErrorCode.NOTEMPTY, `${op.path} has children`);
    }
    return unsupported();
  }

  private async createTopic(name: string, data: Uint8Array | null): Promise<bigint> {
    const assignments = parseAssignment(data, name);
    const res = await this.call('createTopics', {
      topics: [{ name, numPartitions: -1, replicationFactor: -1, assignments }],
    });
    checkItems(res.topics);
    return zxidOf(res.offset);
  }

  private async deleteTopic(name: string, snapshot: ZnodeTreeSnapshot): Promise<bigint> {
    // ZooKeeper takes the marker of a topic that does not exist; Kafka's controller then removed it
    // ("Ignoring request to delete non-existing topics"): nothing to do, nothing to show.
    if (snapshot.get(`/brokers/topics/${name}`) === undefined) return snapshot.zxid;
    const res = await this.call('deleteTopics', { names: [name] });
    checkItems(res.topics);
    return zxidOf(res.offset);
  }

  private async alterTopicConfig(
    topic: string,
    data: Uint8Array | null,
    current: Uint8Array | null,
    path: string,
    snapshot: ZnodeTreeSnapshot,
  ): Promise<bigint> {
    const wanted = parseConfig(data, path);
    let had: Record<string, string> = {};
    try {
      had = parseConfig(current, path);
    } catch {
      // An unreadable current value: set everything given, delete nothing.
    }
    const alterations: { name: string; op: 'set' | 'delete'; value?: string }[] = [];
    for (const [name, value] of Object.entries(wanted))
      if (had[name] !== value) alterations.push({ name, op: 'set', value });
    for (const name of Object.keys(had)) if (!(name in wanted)) alterations.push({ name, op: 'delete' });
    // Nothing changes: the controller has nothing to write (the znode's version stays).
    if (alterations.length === 0) return snapshot.zxid;
    const res = await this.call('alterConfigs', {
      resources: [{ resourceType: 'topic', resourceName: topic, alterations }],
    });
    checkItems(res.resources);
    return zxidOf(res.offset);
  }

  private async electPreferred(data: Uint8Array | null): Promise<bigint> {
    const partitions = parseElection(data);
    const res = await this.call('electLeaders', {
      type: 'preferred',
      ...(partitions === undefined ? {} : { partitions }),
    });
    // As Kafka's controller, partitions that could not move are logged, not a failed write.
    const failed = res.results.filter((r) => r.errorCode !== 0 && r.error !== 'ELECTION_NOT_NEEDED');
    if (failed.length > 0)
      this.options.logger?.info(
        { failed: failed.map((r) => `${r.topic}-${r.partition}: ${r.error}`) },
        'zk preferred replica election: some partitions kept their leader',
      );
    return zxidOf(res.offset);
  }

  private async commit(s: readonly string[], data: Uint8Array | null, path: string): Promise<bigint> {
    const offset = parseOffset(data, path);
    const partition = Number(s[4]);
    if (!/^(0|[1-9]\d*)$/.test(s[4]!) || !Number.isSafeInteger(partition))
      refuse(ErrorCode.BADARGUMENTS, `${path}: bad partition id`);
    const res = await this.commitBatched(s[1]!, { topic: s[3]!, partition, offset });
    checkItems([res.item]);
    return zxidOf(res.offset);
  }

  /** Queues an offset write of `groupId` for the group's next commitOffsets call (see the module comment). */
  private commitBatched(groupId: string, entry: OffsetEntry): Promise<{ item: ItemResult; offset: number }> {
    let queue = this.commitQueues.get(groupId);
    if (queue === undefined) {
      queue = { sending: false, batches: [] };
      this.commitQueues.set(groupId, queue);
    }
    const q = queue;
    const key = `${entry.partition}/${entry.topic}`;
    let batch = queue.batches.at(-1);
    if (batch === undefined || batch.keys.has(key) || batch.offsets.length >= this.maxCommitBatch) {
      batch = { offsets: [], keys: new Set(), waiters: [] };
      queue.batches.push(batch);
    }
    batch.offsets.push(entry);
    batch.keys.add(key);
    // The gathering call's batch is the first; a full one (or a second batch) ends the wait too.
    if (q.gather !== undefined && (q.batches.length > 1 || batch.offsets.length >= q.gather.want))
      q.gather.done();
    const b = batch;
    const result = new Promise<{ item: ItemResult; offset: number }>((resolve, reject) =>
      b.waiters.push({ resolve, reject }),
    );
    if (!queue.sending) {
      queue.sending = true;
      // After this turn of the event loop, so writes read from the sockets together go together.
      setImmediate(() => void this.sendCommits(groupId, queue));
    }
    return result;
  }

  private async sendCommits(groupId: string, queue: CommitQueue): Promise<void> {
    for (let batch = queue.batches.shift(); batch !== undefined; ) {
      const answered = batch.offsets.length;
      try {
        const res = await this.call('commitOffsets', { groupId, offsets: batch.offsets });
        batch.waiters.forEach((w, i) => {
          const item = res.offsets[i];
          if (item === undefined)
            w.reject(new Error(`commitOffsets answered ${res.offsets.length} of ${answered} offsets`));
          else w.resolve({ item, offset: res.offset });
        });
      } catch (err) {
        for (const w of batch.waiters) w.reject(err);
      }
      const want = Math.min(answered + (queue.batches[0]?.offsets.length ?? 0), this.maxCommitBatch);
      await this.gather(queue, want);
      batch = queue.batches.shift();
    }
    queue.sending = false;
    this.commitQueues.delete(groupId);
  }

  /**
   * Waits until the queue's first batch holds `want` writes (or a second batch started), at most
   * `commitGatherMs`. The answers just resolved reach their sockets first (they are settled in
   * microtasks before any timer or I/O), so the wait covers the writers' turnaround.
   */
  private async gather(queue: CommitQueue, want: number): Promise<void> {
    const first = queue.batches[0];
    if (this.commitGatherMs <= 0 || (first?.offsets.length ?? 0) >= want || queue.batches.length > 1) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        queue.gather = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.commitGatherMs);
      queue.gather = { want, done };
    });
  }

  /** Calls the controller; NOT_CONTROLLER is retried for idempotent operations, errors become refusals. */
  private async call<A extends ApiName>(api: A, body: ApiRequest<A>): Promise<ApiResponse<A>> {
    const deadline = Date.now() + this.retryForMs;
    for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
      try {
        return await this.options.call(api, body);
      } catch (err) {
        const e = err as { code?: unknown; message?: unknown; retriable?: unknown };
        const code = typeof e?.code === 'string' ? e.code : undefined;
        const again =
          (code === 'NOT_CONTROLLER' || code === 'NOT_LEADER') &&
          IDEMPOTENT_APIS.has(api) &&
          Date.now() + delay < deadline;
        if (!again) {
          refuse(
            zkErrorOf(code, e?.retriable === true),
            `${api}: ${code ?? 'error'}: ${typeof e?.message === 'string' ? e.message : String(err)}`,
          );
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}
