/**
 * The znode API (`Kbroker.znodes()`): kbroker's metadata as Kafka's ZooKeeper znode tree, over the
 * client protocol's znode APIs.
 *
 * One connection at a time: the shared sticky connection. On it the handle opens a znode channel
 * (`znodeSession`) whose event frames carry both the one-shot watches' events (emitted as `'watch'`)
 * and the persistent watches' (routed by tag). Because the broker writes a watch's event before it
 * answers any later request on that connection, and the connection dispatches frames in order, a
 * `'watch'` listener runs before a later read on this handle resolves with the changed state.
 *
 * Connection loss: one-shot watches set on the lost connection are gone (as with a ZooKeeper session
 * that expired); persistent watches are registered again on the next connection, and events between
 * the two are not replayed (re-read the state after the watch's `'resubscribed'` event).
 */
import { EventEmitter } from 'node:events';
import type {
  ZnodeChildren as ZnodeChildrenResult,
  ZnodeData,
  ZnodeReadOptions,
  Znodes,
  ZnodeWatch,
  ZnodeWatchOptions,
} from './api.js';
import { backoffMs, type Cluster } from './cluster.js';
import type { Connection } from './connection.js';
import {
  ConnectionError,
  InvalidRequestError,
  KbrokerError,
  type KbrokerErrorOptions,
  ProtocolError,
  toKbrokerError,
} from './errors.js';
import {
  type ApiRequest,
  type ApiResponse,
  type EventFrame,
  NO_NODE,
  type ZnodeEventFrame,
  type ZnodeStat,
  type ZnodeWatchEvent,
} from './protocol.js';

/** The znode does not exist (ZooKeeper's NONODE). Not retriable. */
export class NoNodeError extends KbrokerError {
  override name = 'NoNodeError';
  constructor(message: string, options: KbrokerErrorOptions = {}) {
    super(NO_NODE, message, { retriable: false, ...options });
  }
}

interface ZnodeChannel {
  readonly conn: Connection;
  readonly channel: number;
  readonly detach: () => void;
}

type ZnodeReadApi = 'getZnodeData' | 'getZnodeChildren' | 'znodeExists';

/** The implementation of `Znodes`, one per `Kbroker` (its connections are the shared ones). */
export class KbrokerZnodes extends EventEmitter implements Znodes {
  private channel: ZnodeChannel | undefined;
  private opening: Promise<ZnodeChannel> | undefined;
  private readonly watches = new Map<number, PersistentZnodeWatch>();
  private nextTag = 1;

  constructor(private readonly cluster: Cluster) {
    super();
  }

  getData(path: string, options: ZnodeReadOptions = {}): Promise<ZnodeData> {
    return this.read('getZnodeData', path, options).then((r) => ({ data: r.data, stat: r.stat }));
  }

  getChildren(path: string, options: ZnodeReadOptions = {}): Promise<ZnodeChildrenResult> {
    return this.read('getZnodeChildren', path, options).then((r) => ({ children: r.children, stat: r.stat }));
  }

  exists(path: string, options: ZnodeReadOptions = {}): Promise<ZnodeStat | null> {
    return this.read('znodeExists', path, options).then((r) => r.stat);
  }

  watch(path: string, options: ZnodeWatchOptions = {}): ZnodeWatch {
    checkPath(path);
    const tag = this.nextTag++;
    const w = new PersistentZnodeWatch(this, tag, path, options.recursive === true);
    this.watches.set(tag, w);
    return w;
  }

  /** Ends every persistent watch and forgets the channel (`Kbroker.disconnect`); usable again after. */
  async close(): Promise<void> {
    await Promise.all([...this.watches.values()].map((w) => w.close()));
    this.dropChannel(this.channel);
  }

  /** A read on the channel's connection, retried on retriable failures (reads change nothing). */
  private async read<A extends ZnodeReadApi>(
    api: A,
    path: string,
    options: ZnodeReadOptions,
  ): Promise<ApiResponse<A>> {
    checkPath(path);
    const epoch = this.cluster.currentEpoch;
    for (let attempt = 0; ; attempt++) {
      try {
        // Only a connection with the channel open may carry a watch; plain reads need one all the same
        // (the sticky one), and opening the channel on it is one cheap request.
        const ch = await this.open();
        const minOffset = Math.max(this.cluster.seenOffset, options.minOffset ?? 0);
        const body = {
          path,
          ...(options.watch === true ? { watch: true } : {}),
          ...(minOffset > 0 ? { minOffset } : {}),
        } as ApiRequest<A>;
        const res = await ch.conn.request(api, body, { timeoutMs: options.timeoutMs });
        this.cluster.noteOffset(res);
        return res;
      } catch (err) {
        const error = toKbrokerError(err);
        if (error.code === NO_NODE) throw new NoNodeError(error.message, { cause: error });
        this.cluster.checkEpoch(epoch);
        if (!error.retriable || attempt >= this.cluster.config.retry.retries) throw error;
        await this.cluster.sleep(backoffMs(attempt, this.cluster.config.retry), epoch);
      }
    }
  }

  /** The open znode channel, opening one on the sticky connection when there is none. */
  open(): Promise<ZnodeChannel> {
    const ch = this.channel;
    if (ch?.conn.isOpen) return Promise.resolve(ch);
    this.opening ??= this.openChannel().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async openChannel(): Promise<ZnodeChannel> {
    const conn = await this.cluster.anyConnection();
    let opened: ZnodeChannel | undefined;
    // Registered synchronously when the answer is decoded, before any event frame after it.
    const onBody = (raw: unknown): void => {
      const res = raw as ApiResponse<'znodeSession'>;
      if (typeof res !== 'object' || res === null || typeof res.watch !== 'number') {
        throw new ProtocolError('malformed znodeSession response');
      }
      const detach = conn.onClose(() => this.onConnectionLost(ch));
      const ch: ZnodeChannel = { conn, channel: res.watch, detach };
      opened = ch;
      this.channel = ch;
      conn.setEventHandler(res.watch, (frame) => this.onFrame(ch, frame));
    };
    await conn.request('znodeSession', {}, { onBody });
    if (opened === undefined) throw new ProtocolError('znodeSession answered without a channel');
    return opened;
  }

  private onFrame(ch: ZnodeChannel, raw: EventFrame): void {
    if (this.channel !== ch) return;
    const frame = raw as unknown as ZnodeEventFrame;
    for (const event of frame.events) {
      if (typeof event !== 'object' || event === null || typeof event.path !== 'string') continue;
      this.cluster.noteOffset(event);
      if (event.tag === undefined) emitSafely(this, 'watch', event);
      else this.watches.get(event.tag)?.deliver(event);
    }
  }

  private onConnectionLost(ch: ZnodeChannel): void {
    if (this.channel !== ch) return;
    this.dropChannel(ch);
    for (const w of this.watches.values()) w.reattach();
  }

  private dropChannel(ch: ZnodeChannel | undefined): void {
    if (ch === undefined || this.channel !== ch) return;
    this.channel = undefined;
    ch.detach();
    ch.conn.removeEventHandler(ch.channel);
  }

  /** Called by a persistent watch when it ends. */
  forget(tag: number): void {
    this.watches.delete(tag);
  }

  /** The cluster, for the persistent watches' retries. */
  get clusterOf(): Cluster {
    return this.cluster;
  }
}

interface Waiter {
  readonly resolve: (result: IteratorResult<ZnodeWatchEvent>) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * A persistent (optionally recursive) znode watch. Events are queued for the async iterator from the
 * start, except while it has 'event' listeners and nobody iterates. Emits `'resubscribed'` after it was
 * registered again on a new connection (events in between are not replayed).
 */
class PersistentZnodeWatch extends EventEmitter implements ZnodeWatch {
  readonly ready: Promise<void>;
  private readyResolve!: () => void;
  private readyReject!: (err: unknown) => void;
  private attached: Connection | undefined;
  private attaching = false;
  private ended = false;
  private failure: KbrokerError | undefined;
  private failureThrown = false;
  private iterating = false;
  private readonly queue: ZnodeWatchEvent[] = [];
  private readonly waiters: Waiter[] = [];
  private closing: Promise<void> | undefined;
  private everAttached = false;

  constructor(
    private readonly owner: KbrokerZnodes,
    private readonly tag: number,
    readonly path: string,
    readonly recursive: boolean,
  ) {
    super();
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => undefined);
    this.reattach();
  }

  [Symbol.asyncIterator](): AsyncIterator<ZnodeWatchEvent> {
    this.iterating = true;
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown(undefined);
    return this.closing;
  }

  deliver(event: ZnodeWatchEvent): void {
    if (this.ended) return;
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter.resolve({ done: false, value: event });
    else if (this.iterating || this.listenerCount('event') === 0) this.queue.push(event);
    emitSafely(this, 'event', event);
  }

  /** (Re)registers the watch on the owner's channel, with the cluster's backoff. */
  reattach(): void {
    if (this.ended || this.attaching) return;
    this.attached = undefined;
    this.attaching = true;
    void (async () => {
      const cluster = this.owner.clusterOf;
      try {
        for (let failures = 0; !this.ended; failures++) {
          try {
            const ch = await this.owner.open();
            if (this.ended) return;
            await ch.conn.request('addZnodeWatch', {
              path: this.path,
              recursive: this.recursive,
              tag: this.tag,
            });
            if (!ch.conn.isOpen) continue;
            this.attached = ch.conn;
            if (this.everAttached) this.emit('resubscribed');
            this.everAttached = true;
            this.readyResolve();
            return;
          } catch (err) {
            const error = toKbrokerError(err);
            if (this.ended) return;
            if (!error.retriable || failures >= cluster.config.retry.retries) {
              void this.shutdown(error);
              return;
            }
            // Cancelled (rejecting) by a disconnect, which closes this watch first anyway.
            await cluster.sleep(backoffMs(failures, cluster.config.retry));
          }
        }
      } finally {
        this.attaching = false;
      }
    })();
  }

  private next(): Promise<IteratorResult<ZnodeWatchEvent>> {
    const event = this.queue.shift();
    if (event !== undefined) return Promise.resolve({ done: false, value: event });
    if (this.failure !== undefined && !this.failureThrown) {
      this.failureThrown = true;
      return Promise.reject(this.failure);
    }
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private async shutdown(error: KbrokerError | undefined): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.owner.forget(this.tag);
    if (error === undefined) this.queue.length = 0;
    else this.failure = error;
    this.readyReject(error ?? new ConnectionError('the watch was closed', { retriable: false }));
    for (const w of this.waiters.splice(0)) {
      if (error !== undefined && !this.failureThrown) {
        this.failureThrown = true;
        w.reject(error);
      } else {
        w.resolve({ done: true, value: undefined });
      }
    }
    if (error !== undefined && this.listenerCount('error') > 0) this.emit('error', error);
    const conn = this.attached;
    this.attached = undefined;
    if (conn?.isOpen) {
      try {
        await conn.request('removeZnodeWatch', { tag: this.tag });
      } catch {
        // Best effort: the broker drops the watch with the connection anyway.
      }
    }
  }
}

/** Emits without letting a throwing listener break the connection's frame loop. */
function emitSafely(emitter: EventEmitter, name: string, event: ZnodeWatchEvent): void {
  try {
    emitter.emit(name, event);
  } catch (err) {
    if (emitter.listenerCount('error') > 0) emitter.emit('error', err);
    else
      queueMicrotask(() => {
        throw err;
      });
  }
}

function checkPath(path: string): void {
  if (typeof path !== 'string' || !path.startsWith('/') || (path.length > 1 && path.endsWith('/'))) {
    throw new InvalidRequestError('INVALID_REQUEST', `invalid znode path ${JSON.stringify(path)}`);
  }
}
