/**
 * The client's view of a cluster: which brokers exist, who the active controller is, one reused
 * connection per broker, and where each request goes.
 *
 * Routing: CONTROLLER_APIS go to the active controller's endpoint when it is known (from
 * `describeCluster` or a NOT_CONTROLLER error's `leaderEndpoint`), else to any broker, which forwards
 * them. Every other API goes to one sticky broker, kept until its connection fails, so successive
 * reads see one node's metadata image (never going back in time).
 *
 * Retries (`config.retry`, exponential backoff with jitter): a retriable failure is retried only when
 * repeating the request cannot do harm, i.e. the API is in IDEMPOTENT_APIS, or the request certainly
 * was not processed (no connection could be established, or the connection had failed before the
 * request was written). A non-idempotent write (createTopics, deleteTopics, createPartitions, ...)
 * whose outcome is unknown (the connection broke after it was written, it timed out, or the broker
 * answered NOT_CONTROLLER or REQUEST_TIMED_OUT, which it may do after having proposed the write) fails
 * with that retriable error: the caller decides whether repeating it is safe (for createTopics a repeat
 * may answer TOPIC_ALREADY_EXISTS for a topic the first attempt created). The cluster still learns from
 * the failure (a new controller, a dead broker), so the caller's own retry is routed well.
 */
import type { ClientSasl, ClientTls, KbrokerConfig, RetryOptions } from './api.js';
import { Connection } from './connection.js';
import {
  ConnectionError,
  InvalidRequestError,
  type KbrokerError,
  NotControllerError,
  RequestTimeoutError,
  toKbrokerError,
} from './errors.js';
import {
  type ApiName,
  type ApiRequest,
  type ApiResponse,
  type BrokerInfo,
  CONTROLLER_APIS,
  DEFAULT_CLIENT_PORT,
  DEFAULT_MAX_FRAME_BYTES,
  type Endpoint,
  IDEMPOTENT_APIS,
  READ_APIS,
} from './protocol.js';

/** `config.retry` with every default filled in. */
export type ResolvedRetry = { readonly [K in keyof RetryOptions]-?: NonNullable<RetryOptions[K]> };

/** A `KbrokerConfig` with defaults filled in and bootstrap addresses parsed. */
export interface ClusterConfig {
  readonly bootstrap: readonly Endpoint[];
  readonly clientId: string;
  readonly clusterId: string | undefined;
  readonly requestTimeoutMs: number;
  readonly connectionTimeoutMs: number;
  readonly retry: ResolvedRetry;
  readonly maxFrameBytes: number;
  readonly tls: ClientTls | undefined;
  readonly sasl: ClientSasl | undefined;
}

/** Options of one request through the cluster. */
export interface ClusterRequestOptions {
  /** Per attempt; default `config.requestTimeoutMs`. */
  readonly timeoutMs?: number;
}

const DEFAULT_RETRY: ResolvedRetry = {
  retries: 5,
  initialRetryTimeMs: 100,
  maxRetryTimeMs: 5000,
  multiplier: 2,
  factor: 0.2,
};

/** Validates a `KbrokerConfig` and fills in its defaults. Throws `InvalidRequestError` when unusable. */
export function resolveConfig(config: KbrokerConfig): ClusterConfig {
  if (!Array.isArray(config.brokers) || config.brokers.length === 0) {
    throw new InvalidRequestError('INVALID_REQUEST', 'config.brokers must list at least one host:port');
  }
  const retry: ResolvedRetry = { ...DEFAULT_RETRY };
  for (const [key, value] of Object.entries(config.retry ?? {})) {
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidRequestError('INVALID_REQUEST', `config.retry.${key} must be a non-negative number`);
    }
    (retry as Record<string, number>)[key] = value;
  }
  return {
    bootstrap: config.brokers.map(parseEndpoint),
    clientId: config.clientId ?? 'kbroker-client',
    clusterId: config.clusterId,
    requestTimeoutMs: positive(config.requestTimeoutMs, 30_000, 'requestTimeoutMs'),
    connectionTimeoutMs: positive(config.connectionTimeoutMs, 3_000, 'connectionTimeoutMs'),
    retry,
    maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
    tls: config.tls === true ? {} : config.tls,
    sasl: config.sasl,
  };
}

/** Parses `host:port`, `[v6]:port` or a bare host (port 9092). */
export function parseEndpoint(address: string): Endpoint {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  const plain = /^([^:[\]]+)(?::(\d+))?$/.exec(address);
  const match = bracketed ?? plain;
  const host = match?.[1];
  const port = match?.[2] === undefined ? DEFAULT_CLIENT_PORT : Number(match[2]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidRequestError('INVALID_REQUEST', `invalid broker address '${address}' (want host:port)`);
  }
  return { host, port };
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidRequestError('INVALID_REQUEST', `config.${name} must be a positive number`);
  }
  return value;
}

/** The backoff before retry number `attempt` (0-based): exponential, capped, with +-factor jitter. */
export function backoffMs(attempt: number, retry: ResolvedRetry, random: () => number = Math.random): number {
  const base = Math.min(retry.maxRetryTimeMs, retry.initialRetryTimeMs * retry.multiplier ** attempt);
  const jitter = base * retry.factor * (random() * 2 - 1);
  return Math.max(0, Math.min(retry.maxRetryTimeMs, base + jitter));
}

function keyOf(endpoint: Endpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

/** The cluster's latest `describeCluster`, as the client uses it. */
export interface ClusterView {
  readonly clusterId: string;
  readonly controllerId: number;
  readonly controllerEndpoint: Endpoint | null;
  readonly brokers: readonly BrokerInfo[];
}

/** Connections, routing and retries for one client (an Admin, or the shared one of a `Kbroker`). */
export class Cluster {
  /** Open or opening connections by `host:port`; a connection removes itself when it ends. */
  private readonly connections = new Map<string, Connection>();
  /** Pending backoff sleeps, so `disconnect` can cancel them (and release their timers). */
  private readonly sleeps = new Set<{ timer: NodeJS.Timeout; reject: (err: KbrokerError) => void }>();
  /**
   * The active controller's endpoint: undefined = unknown (ask `describeCluster` before routing a
   * controller API), null = the cluster named none (route to any broker, which forwards).
   */
  private controller: Endpoint | null | undefined;
  private view: ClusterView | undefined;
  /** `host:port` of the broker reads go to, while its connection lives. */
  private sticky: string | undefined;
  private refreshing: Promise<void> | undefined;
  /** Bumped by `disconnect`: work started in an older epoch stops instead of retrying. */
  private epoch = 0;
  /** Where `anyConnection` starts in the bootstrap list; rotated so failures spread the load. */
  private bootstrapCursor = 0;
  /**
   * A broker that just said it knows no controller (cut off from the quorum, or electing): tried last
   * until a request succeeds, so retries do not keep asking it.
   */
  private lagging: string | undefined;

  constructor(readonly config: ClusterConfig) {
    this.bootstrapCursor = Math.floor(Math.random() * config.bootstrap.length);
  }

  /** The latest cluster description, if any. */
  get current(): ClusterView | undefined {
    return this.view;
  }

  /** Connects to a bootstrap broker and learns the cluster (brokers, controller). Retries as requests do. */
  async connect(): Promise<void> {
    await this.request('describeCluster', {});
  }

  /**
   * Sends a request with routing and retries (see the module comment). Rejects with a `KbrokerError`:
   * the broker's error, or the last retriable one once retries are exhausted or a retry would be unsafe.
   */
  async request<A extends ApiName>(
    api: A,
    body: ApiRequest<A>,
    options: ClusterRequestOptions = {},
  ): Promise<ApiResponse<A>> {
    if (api === 'hello' || api === 'watch' || api === 'unwatch') {
      throw new InvalidRequestError(
        'INVALID_REQUEST',
        `${api} is connection-scoped and handled by the client itself (use metadata().watch())`,
      );
    }
    const epoch = this.epoch;
    const idempotent = IDEMPOTENT_APIS.has(api);
    for (let attempt = 0; ; attempt++) {
      let conn: Connection | undefined;
      try {
        this.checkEpoch(epoch);
        conn = await this.route(api, epoch);
        this.checkEpoch(epoch);
        // A caller's own `minOffset` (e.g. an offset another client wrote at) is kept when higher.
        const given = (body as { minOffset?: unknown }).minOffset;
        const minOffset = Math.max(this.seenOffset, typeof given === 'number' ? given : 0);
        const sent = READ_APIS.has(api) && minOffset > 0 ? { ...body, minOffset } : body;
        const res = await conn.request(api, sent, { timeoutMs: options.timeoutMs });
        if (api === 'describeCluster') this.learn(res as ApiResponse<'describeCluster'>);
        this.noteOffset(res);
        this.lagging = undefined;
        return res;
      } catch (err) {
        const error = toKbrokerError(err);
        this.checkEpoch(epoch);
        this.observe(api, error, conn);
        // `conn` is set only once a connection was established; a failure before that, or a
        // ConnectionError saying the request was not written, means the broker never saw it.
        const notProcessed = conn === undefined || (error instanceof ConnectionError && !error.requestSent);
        if (!error.retriable || attempt >= this.config.retry.retries || !(idempotent || notProcessed)) {
          throw error;
        }
        await this.sleep(backoffMs(attempt, this.config.retry), epoch);
      }
    }
  }

  /**
   * The highest metadata offset this client has seen: reads carry it as `minOffset`, so no broker
   * answers with state older than a write this client already saw acknowledged (read-your-writes).
   */
  seenOffset = 0;

  /** Raises `seenOffset` from a response's `offset` or `metadataOffset` (and from watch events). */
  noteOffset(res: unknown): void {
    const r = res as { offset?: unknown; metadataOffset?: unknown } | undefined;
    const off = typeof r?.offset === 'number' ? r.offset : r?.metadataOffset;
    if (typeof off === 'number' && off > this.seenOffset) this.seenOffset = off;
  }

  /**
   * The sticky connection for reads and watches: the current one while it lives, else the first that
   * can be established among the known unfenced brokers, then the bootstrap brokers. Throws a
   * `ConnectionError` (nothing was sent) when none can be reached, or a non-retriable handshake error
   * (another cluster, another protocol version) at once.
   */
  async anyConnection(): Promise<Connection> {
    // A disconnect while this runs must not leave a connection opened after it.
    const epoch = this.epoch;
    if (this.sticky !== undefined) {
      const current = this.connections.get(this.sticky);
      if (current !== undefined) {
        try {
          await current.ready;
          return current;
        } catch {
          // Ended meanwhile; pick another below.
        }
      }
      this.sticky = undefined;
    }
    let lastError: KbrokerError | undefined;
    const tried: string[] = [];
    for (const endpoint of this.candidates()) {
      this.checkEpoch(epoch);
      tried.push(keyOf(endpoint));
      try {
        const conn = await this.connectionTo(endpoint);
        this.sticky = conn.key;
        // Learn the other brokers as soon as one answers, so a client bootstrapped with a single broker
        // (that only reads or watches, never asking describeCluster itself) can fail over when it dies.
        if (this.view === undefined) void this.refresh();
        return conn;
      } catch (err) {
        this.checkEpoch(epoch);
        const error = toKbrokerError(err);
        if (!error.retriable) throw error;
        lastError = error;
      }
    }
    throw new ConnectionError(`no broker reachable (tried ${tried.join(', ')}): ${lastError?.message}`, {
      cause: lastError,
      requestSent: false,
    });
  }

  /** The established connection to one endpoint, reusing the open one. */
  async connectionTo(endpoint: Endpoint): Promise<Connection> {
    const key = keyOf(endpoint);
    let conn = this.connections.get(key);
    if (conn === undefined || !conn.isOpen) {
      const created = Connection.open(endpoint, {
        host: endpoint.host,
        port: endpoint.port,
        clientId: this.config.clientId,
        clusterId: this.config.clusterId,
        connectionTimeoutMs: this.config.connectionTimeoutMs,
        requestTimeoutMs: this.config.requestTimeoutMs,
        maxFrameBytes: this.config.maxFrameBytes,
        tls: this.config.tls,
        sasl: this.config.sasl,
      });
      created.onClose(() => {
        if (this.connections.get(key) === created) this.connections.delete(key);
        if (this.sticky === key) this.sticky = undefined;
      });
      this.connections.set(key, created);
      conn = created;
    }
    await conn.ready;
    return conn;
  }

  /**
   * Closes every connection (pending requests reject with `ConnectionError`), cancels pending retries
   * and forgets the cluster view. Resolves once every socket and timer is released. The cluster may be
   * used again afterwards; it then reconnects.
   */
  async disconnect(): Promise<void> {
    this.epoch++;
    const closed = new ConnectionError('the client disconnected', { retriable: false });
    for (const sleep of this.sleeps) {
      clearTimeout(sleep.timer);
      sleep.reject(closed);
    }
    this.sleeps.clear();
    const connections = [...this.connections.values()];
    this.connections.clear();
    this.sticky = undefined;
    this.controller = undefined;
    this.view = undefined;
    this.refreshing = undefined;
    await Promise.all(connections.map((c) => c.close()));
  }

  /** Throws when `disconnect` was called since `epoch`: work of an older epoch must not continue. */
  checkEpoch(epoch: number): void {
    if (epoch !== this.epoch) throw new ConnectionError('the client disconnected', { retriable: false });
  }

  /** The current epoch (see `checkEpoch`). */
  get currentEpoch(): number {
    return this.epoch;
  }

  /** Waits `ms`, or rejects when the cluster disconnects first. */
  sleep(ms: number, epoch: number = this.epoch): Promise<void> {
    this.checkEpoch(epoch);
    return new Promise((resolve, reject) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleeps.delete(entry);
          resolve();
        }, ms),
        reject,
      };
      this.sleeps.add(entry);
    });
  }

  private async route(api: ApiName, epoch: number): Promise<Connection> {
    if (!CONTROLLER_APIS.has(api)) return this.anyConnection();
    if (this.controller === undefined) {
      await this.refresh();
      this.checkEpoch(epoch);
    }
    const controller = this.controller;
    if (controller === null || controller === undefined) return this.anyConnection();
    try {
      return await this.connectionTo(controller);
    } catch (err) {
      // Not reachable: maybe it moved. Ask again before the next attempt.
      if (toKbrokerError(err).retriable && this.controller === controller) this.controller = undefined;
      throw err;
    }
  }

  /** One `describeCluster` (no retries; concurrent callers share it). Failures leave the view as it was. */
  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      const epoch = this.epoch;
      try {
        const conn = await this.anyConnection();
        const res = await conn.request('describeCluster', {});
        if (epoch === this.epoch) this.learn(res);
      } catch {
        // The request that needed the refresh goes to any broker instead (which forwards).
      } finally {
        if (epoch === this.epoch) this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private learn(res: ApiResponse<'describeCluster'>): void {
    this.view = {
      clusterId: res.clusterId,
      controllerId: res.controllerId,
      controllerEndpoint: res.controllerEndpoint,
      brokers: res.brokers,
    };
    this.controller = res.controllerEndpoint ?? null;
  }

  /** Learns from a failed attempt: a new controller, or a connection that is gone. */
  private observe(api: ApiName, error: KbrokerError, conn: Connection | undefined): void {
    if (error instanceof NotControllerError) {
      // The error names the controller when the node knows it; else ask the cluster before the next try,
      // through another broker: this one may be cut off from the quorum and know nothing newer.
      this.controller = error.leaderEndpoint ?? undefined;
      if (error.leaderEndpoint === undefined && conn !== undefined) {
        this.lagging = conn.key;
        if (this.sticky === conn.key) this.sticky = undefined;
      }
      return;
    }
    if (error.code === 'BROKER_NOT_AVAILABLE') {
      // That broker is fenced or behind the metadata log: read from another one next time.
      if (conn !== undefined && this.sticky === conn.key) this.sticky = undefined;
      return;
    }
    if (error instanceof ConnectionError || error instanceof RequestTimeoutError) {
      if (conn !== undefined && CONTROLLER_APIS.has(api) && this.controller !== null) {
        if (this.controller !== undefined && keyOf(this.controller) === conn.key) this.controller = undefined;
      }
      // A read that timed out may be stuck on a slow broker: try another next time.
      if (conn !== undefined && this.sticky === conn.key && error instanceof RequestTimeoutError) {
        this.sticky = undefined;
      }
    }
  }

  /** Where to look for a broker: known unfenced brokers (shuffled), then the bootstrap list (rotated). */
  private candidates(): Endpoint[] {
    const seen = new Set<string>();
    const out: Endpoint[] = [];
    const add = (e: Endpoint): void => {
      const key = keyOf(e);
      if (seen.has(key)) return;
      seen.add(key);
      out.push(e);
    };
    const known = (this.view?.brokers ?? []).filter((b) => !b.fenced && !b.inControlledShutdown);
    for (const b of shuffle(known)) add({ host: b.host, port: b.port });
    const n = this.config.bootstrap.length;
    const start = this.bootstrapCursor;
    this.bootstrapCursor = (start + 1) % n;
    for (let i = 0; i < n; i++) {
      const e = this.config.bootstrap[(start + i) % n];
      if (e !== undefined) add(e);
    }
    const lagging = this.lagging;
    if (lagging === undefined) return out;
    return [...out.filter((e) => keyOf(e) !== lagging), ...out.filter((e) => keyOf(e) === lagging)];
  }
}

function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}
