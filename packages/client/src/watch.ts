/**
 * A metadata watch that survives connection loss, delivering each event exactly once and in order.
 *
 * Delivery rule. `offset` is the offset of the last event delivered (initially `fromOffset`, or the
 * position the broker reports for a watch from now). Each subscription is made with `fromOffset` =
 * `offset` at the time, so the broker streams the events after it; an event is delivered only when its
 * offset is above that subscription's `fromOffset` and not below the last delivered one. So an event
 * the broker repeats (a replay across a reconnect, or a duplicate) is dropped, while the several events
 * of one log offset (one record batch) are all delivered. This relies on the broker sending all events
 * of one offset in one event frame, which it does (one frame per applied batch): a connection lost in
 * the middle of a batch would otherwise lose the rest of that batch on resume.
 *
 * On connection loss the watch subscribes again through the cluster (any reachable broker), with the
 * cluster's backoff; `config.retry.retries` consecutive failures end it with the last error (emitted as
 * 'error' when someone listens, and thrown by the iterator after the events it holds).
 *
 * Buffering: events are queued for the async iterator from the start, except while the watch has
 * 'event' listeners and nobody has started iterating (so a listener-only watch does not accumulate
 * memory). The queue is unbounded: a slow iterator holds every event it has not consumed yet.
 */
import { EventEmitter } from 'node:events';
import type { MetadataWatch, WatchOptions } from './api.js';
import { backoffMs, type Cluster } from './cluster.js';
import type { Connection } from './connection.js';
import {
  ConnectionError,
  fromWire,
  InvalidRequestError,
  type KbrokerError,
  ProtocolError,
  toKbrokerError,
} from './errors.js';
import type { ApiResponse, EventFrame, MetadataEvent } from './protocol.js';

interface Subscription {
  readonly conn: Connection;
  readonly watchId: number;
  /** The `fromOffset` this subscription started after: events at or below it are replays. */
  readonly from: number;
  readonly detach: () => void;
}

interface Waiter {
  readonly resolve: (result: IteratorResult<MetadataEvent>) => void;
  readonly reject: (err: unknown) => void;
}

/** The implementation of `MetadataWatch`. Created by `Kbroker.metadata().watch()`. */
export class Watch extends EventEmitter implements MetadataWatch {
  private lastOffset: number;
  /** Whether `lastOffset` is a real position (given, reported by the broker, or delivered). */
  private positioned: boolean;
  private subscription: Subscription | undefined;
  /** True once closed or failed: no more events are accepted, nothing reconnects. */
  private ended = false;
  private failure: KbrokerError | undefined;
  private failureThrown = false;
  private iterating = false;
  private readonly queue: MetadataEvent[] = [];
  private readonly waiters: Waiter[] = [];
  private closing: Promise<void> | undefined;
  private retryTimer: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  /** Whether a subscribe loop runs (at most one at a time). */
  private subscribing = false;

  /**
   * Starts subscribing at once. `onEnd` is called once when the watch is closed or fails (the client
   * uses it to forget the watch).
   */
  constructor(
    private readonly cluster: Cluster,
    options: WatchOptions,
    private readonly onEnd: (watch: Watch) => void,
  ) {
    super();
    const from = options.fromOffset;
    if (from !== undefined && (!Number.isSafeInteger(from) || from < -1)) {
      throw new InvalidRequestError('INVALID_REQUEST', `fromOffset must be an integer >= -1, got ${from}`);
    }
    this.lastOffset = from ?? -1;
    this.positioned = from !== undefined;
    void this.subscribe();
  }

  /** The offset of the last event delivered (or the starting position); pass it as `fromOffset` to resume. */
  get offset(): number {
    return this.lastOffset;
  }

  /** Whether the watch is currently subscribed on a live connection. */
  get subscribed(): boolean {
    return this.subscription !== undefined;
  }

  /**
   * Stops the watch: sends `unwatch` (best effort) and ends the iterator (a pending `next()` resolves
   * done; events not yet consumed are dropped). Resolves once the unwatch was answered or failed.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown(undefined);
    return this.closing;
  }

  /**
   * Events in order, each once. Breaking out of a `for await` loop closes the watch. Single consumer:
   * iterators share one queue.
   */
  [Symbol.asyncIterator](): AsyncIterator<MetadataEvent> {
    this.iterating = true;
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  private next(): Promise<IteratorResult<MetadataEvent>> {
    const event = this.queue.shift();
    if (event !== undefined) return Promise.resolve({ done: false, value: event });
    if (this.failure !== undefined && !this.failureThrown) {
      this.failureThrown = true;
      return Promise.reject(this.failure);
    }
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * Subscribes (again) until subscribed, the watch ends, or retries run out. One loop at a time: a
   * connection lost while the loop runs is seen by its condition (no subscription), so it goes on.
   */
  private async subscribe(): Promise<void> {
    if (this.subscribing) return;
    this.subscribing = true;
    try {
      let failures = 0;
      while (!this.ended && this.subscription === undefined) {
        try {
          await this.subscribeOnce();
          if (this.subscription === undefined && !this.ended) {
            // Lost as soon as made: back off like any other failure.
            throw new ConnectionError('the watch connection closed right after subscribing', {
              requestSent: true,
            });
          }
          failures = 0;
        } catch (err) {
          const error = toKbrokerError(err);
          if (this.ended) return;
          if (!error.retriable || failures >= this.cluster.config.retry.retries) {
            void this.shutdown(error);
            return;
          }
          await this.pause(backoffMs(failures, this.cluster.config.retry));
          failures++;
        }
      }
    } finally {
      this.subscribing = false;
    }
  }

  private async subscribeOnce(): Promise<void> {
    const conn = await this.cluster.anyConnection();
    if (this.ended) return;
    const from = this.positioned ? this.lastOffset : undefined;
    // Registered synchronously when the response is decoded, before the events that follow it.
    const onBody = (raw: unknown): void => {
      const res = raw as ApiResponse<'watch'>;
      if (typeof res !== 'object' || res === null || typeof res.watch !== 'number') {
        throw new ProtocolError('malformed watch response');
      }
      if (this.ended || !conn.isOpen) {
        // Closed while subscribing: cancel the watch the broker just created.
        if (conn.isOpen) conn.request('unwatch', { watch: res.watch }).catch(() => undefined);
        return;
      }
      const start = from ?? (typeof res.offset === 'number' ? res.offset : -1);
      if (!this.positioned) {
        this.lastOffset = start;
        this.positioned = true;
      }
      const detach = conn.onClose(() => this.onConnectionLost(subscription));
      const subscription: Subscription = { conn, watchId: res.watch, from: start, detach };
      this.subscription = subscription;
      conn.setEventHandler(res.watch, (frame) => this.onEvents(subscription, frame));
    };
    await conn.request('watch', from === undefined ? {} : { fromOffset: from }, { onBody });
  }

  private onEvents(sub: Subscription, frame: EventFrame): void {
    if (this.ended || this.subscription !== sub) return;
    if (frame.error !== undefined) {
      void this.shutdown(
        fromWire({ code: frame.error.code, errorCode: -1, message: frame.error.message, retriable: false }),
      );
      return;
    }
    for (const event of frame.events) {
      if (this.ended) return;
      if (typeof event !== 'object' || event === null || typeof event.offset !== 'number') continue;
      // Replays of what this subscription started after, and anything older than what was delivered.
      if (event.offset <= sub.from || event.offset < this.lastOffset) continue;
      this.lastOffset = event.offset;
      this.deliver(event);
    }
  }

  private deliver(event: MetadataEvent): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter.resolve({ done: false, value: event });
    else if (this.iterating || this.listenerCount('event') === 0) this.queue.push(event);
    try {
      this.emit('event', event);
    } catch (err) {
      // A listener threw. Not ours to swallow, and not a reason to break the connection's frame loop:
      // report it as an 'error' when someone listens, else rethrow it outside the loop (uncaught).
      if (this.listenerCount('error') > 0) this.emit('error', err);
      else
        queueMicrotask(() => {
          throw err;
        });
    }
  }

  private onConnectionLost(sub: Subscription): void {
    if (this.subscription !== sub) return;
    this.subscription = undefined;
    if (!this.ended) void this.subscribe();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.retryTimer = undefined;
          resolve();
        }, ms),
        resolve,
      };
      this.retryTimer = entry;
    });
  }

  /** Ends the watch once: `error` set = failed (reported), else closed by the user. */
  private async shutdown(error: KbrokerError | undefined): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer.timer);
      this.retryTimer.resolve();
      this.retryTimer = undefined;
    }
    const sub = this.subscription;
    this.subscription = undefined;
    if (error === undefined) {
      this.queue.length = 0;
    } else {
      this.failure = error;
    }
    // Pending next() calls: the queue is empty whenever someone waits, so they end (or fail) now.
    const waiters = this.waiters.splice(0);
    for (const w of waiters) {
      if (error !== undefined && !this.failureThrown) {
        this.failureThrown = true;
        w.reject(error);
      } else {
        w.resolve({ done: true, value: undefined });
      }
    }
    if (error !== undefined && this.listenerCount('error') > 0) this.emit('error', error);
    this.onEnd(this);
    if (sub !== undefined) {
      sub.detach();
      sub.conn.removeEventHandler(sub.watchId);
      if (sub.conn.isOpen) {
        try {
          await sub.conn.request('unwatch', { watch: sub.watchId });
        } catch {
          // Best effort: the broker drops the watch with the connection anyway.
        }
      }
    }
  }
}
