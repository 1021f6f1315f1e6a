/**
 * One TCP connection to one broker's client listener.
 *
 * Lifecycle: `Connection.open` dials, sends `hello` and checks the answer; the connection is usable
 * once `ready` resolves. It ends exactly once (`close()`, a socket error, the broker closing it, a
 * protocol violation, or the connection timeout): every pending request is then rejected with a
 * `ConnectionError`, every timer is cleared, the socket is destroyed and the close listeners are told.
 * A closed connection is never reused; the cluster dials a new one.
 *
 * Requests are multiplexed: each carries a connection-unique id and is matched to the response with
 * the same id, in whatever order responses come. A response for an id nobody waits for any more (the
 * request timed out on our side) is dropped. Event frames are routed to the handler registered for
 * their watch id; events for a watch without a handler are dropped.
 */
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from '@kbroker/wire';
import type { ClientSasl, ClientTls } from './api.js';
import {
  AuthenticationError,
  ConnectionError,
  fromWire,
  InconsistentClusterIdError,
  type KbrokerError,
  ProtocolError,
  RequestTimeoutError,
  UnsupportedVersionError,
} from './errors.js';
import {
  type ApiName,
  type ApiRequest,
  type ApiResponse,
  DEFAULT_MAX_FRAME_BYTES,
  type Endpoint,
  type EventFrame,
  PROTOCOL_VERSION,
  type WireError,
} from './protocol.js';
import { newNonce, SCRAM_MECHANISM, scramClientProof } from './scram.js';

/** How to reach and greet one broker. */
export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  /** When set, a broker of another cluster is refused. */
  readonly clusterId?: string;
  /** Bounds dialing plus the `hello` round trip. */
  readonly connectionTimeoutMs: number;
  /** Default per-request timeout. */
  readonly requestTimeoutMs: number;
  /** The largest frame sent or accepted. Default: the protocol's 16 MiB. */
  readonly maxFrameBytes?: number;
  /** Dial over TLS with these settings. */
  readonly tls?: ClientTls | undefined;
  /** Authenticate right after the hello (SCRAM-SHA-256). */
  readonly sasl?: ClientSasl | undefined;
}

/** Per-request options. */
export interface RequestOptions {
  /** Overrides the connection's default request timeout. */
  readonly timeoutMs?: number;
  /**
   * Called synchronously with a successful response body, before any later frame of the connection
   * is handled (the promise resolves only after a microtask). A `watch` uses it to register its event
   * handler before the events that follow the response are dispatched.
   */
  readonly onBody?: (body: unknown) => void;
}

/** What the broker said about itself in `hello`. */
export type HelloInfo = ApiResponse<'hello'>;

interface Pending {
  readonly api: ApiName;
  readonly resolve: (body: unknown) => void;
  readonly reject: (err: KbrokerError) => void;
  readonly timer: NodeJS.Timeout;
  readonly onBody: ((body: unknown) => void) | undefined;
}

/** Request ids stay positive int32s (compact in msgpack, safe for any peer implementation). */
const MAX_REQUEST_ID = 0x7fff_ffff;

/** One connection to one broker. Create with `Connection.open`. */
export class Connection {
  /** `host:port` of the broker dialed. */
  readonly key: string;
  /** Resolves once the handshake succeeded; rejects (and the connection is closed) otherwise. */
  readonly ready: Promise<HelloInfo>;
  /** What the broker answered to `hello`; undefined until `ready` resolves. */
  hello: HelloInfo | undefined;

  private readonly socket: Socket;
  private readonly decoder: FrameDecoder;
  private readonly maxFrameBytes: number;
  private readonly pending = new Map<number, Pending>();
  private readonly eventHandlers = new Map<number, (frame: EventFrame) => void>();
  /**
   * Event frames of watches without a handler yet, kept while a `watch` request is pending: a broker
   * may write a resumed watch's backlog before its answer, and those events must not be lost. Handed
   * to the handler when it is set; dropped once no `watch` request is pending.
   */
  private readonly early = new Map<number, EventFrame[]>();
  private readonly closeListeners = new Set<(err: KbrokerError) => void>();
  private nextId = 1;
  private corked = false;
  /** Set once, when the connection ends; its presence means every resource is released or releasing. */
  private failure: KbrokerError | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly socketClosed: Promise<void>;

  private constructor(
    readonly endpoint: Endpoint,
    private readonly options: ConnectionOptions,
  ) {
    this.key = `${endpoint.host}:${endpoint.port}`;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.decoder = new FrameDecoder({ maxFrameBytes: this.maxFrameBytes });
    const t = options.tls;
    this.socket =
      t === undefined
        ? net.connect({ host: endpoint.host, port: endpoint.port })
        : tls.connect({
            host: endpoint.host,
            port: endpoint.port,
            ...(t.ca === undefined ? {} : { ca: t.ca as string | Buffer | (string | Buffer)[] }),
            ...(t.cert === undefined ? {} : { cert: t.cert }),
            ...(t.key === undefined ? {} : { key: t.key }),
            // An IP address is not a valid SNI name; the certificate is still checked against it.
            ...(t.servername !== undefined
              ? { servername: t.servername }
              : net.isIP(endpoint.host) === 0
                ? { servername: endpoint.host }
                : {}),
            rejectUnauthorized: t.rejectUnauthorized ?? true,
          });
    this.socketClosed = new Promise((resolve) => {
      this.socket.once('close', () => {
        this.fail(
          new ConnectionError(`connection to ${this.key} closed by the broker`, { requestSent: true }),
        );
        resolve();
      });
    });
    this.socket.on('error', (err) => {
      this.fail(new ConnectionError(`connection to ${this.key} failed: ${err.message}`, { cause: err }));
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // The whole establishment (dial + hello) is bounded by one timer, cleared when it ends either way.
    this.connectTimer = setTimeout(() => {
      this.fail(
        new ConnectionError(`timed out connecting to ${this.key} after ${options.connectionTimeoutMs} ms`),
      );
    }, options.connectionTimeoutMs);
    this.ready = this.handshake();
    // `ready` is also awaited by `open`'s caller; this keeps an unobserved failure from being reported
    // as unhandled when only the close listeners care.
    this.ready.catch(() => undefined);
  }

  /**
   * Dials a broker and performs the handshake. The returned connection is not yet usable: await
   * `ready` (or use `Connection.connect`). Having the object before the handshake ends lets a caller
   * close it early (the cluster does, on `disconnect`).
   */
  static open(endpoint: Endpoint, options: ConnectionOptions): Connection {
    return new Connection(endpoint, options);
  }

  /** Dials a broker and resolves once the handshake succeeded. */
  static async connect(endpoint: Endpoint, options: ConnectionOptions): Promise<Connection> {
    const conn = Connection.open(endpoint, options);
    await conn.ready;
    return conn;
  }

  /** Whether the connection has not ended (it may still be handshaking). */
  get isOpen(): boolean {
    return this.failure === undefined;
  }

  /** Number of requests awaiting their response. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  /**
   * Sends one request and resolves with the response body, or rejects with: the broker's error
   * (`fromWire`), `RequestTimeoutError` when no answer came in time, `ConnectionError` when the
   * connection ended first (`requestSent` false when it had ended before this call), or
   * `ProtocolError` when the request cannot be encoded within the frame limit (not sent).
   */
  request<A extends ApiName>(
    api: A,
    body: ApiRequest<A>,
    options: RequestOptions = {},
  ): Promise<ApiResponse<A>> {
    if (this.failure !== undefined) {
      return Promise.reject(
        new ConnectionError(`connection to ${this.key} is closed: ${this.failure.message}`, {
          requestSent: false,
          cause: this.failure,
        }),
      );
    }
    return this.send(api, body, options) as Promise<ApiResponse<A>>;
  }

  /** Routes the events of watch `watchId` to `handler` (replacing any previous one). */
  setEventHandler(watchId: number, handler: (frame: EventFrame) => void): void {
    if (this.failure !== undefined) return;
    this.eventHandlers.set(watchId, handler);
    const early = this.early.get(watchId);
    if (early === undefined) return;
    this.early.delete(watchId);
    for (const frame of early) {
      // The handler may remove itself (or the connection may end) while being handed the backlog.
      if (this.eventHandlers.get(watchId) !== handler) return;
      handler(frame);
    }
  }

  /** Stops routing the events of watch `watchId`; later ones are dropped. */
  removeEventHandler(watchId: number): void {
    this.eventHandlers.delete(watchId);
  }

  /**
   * Calls `listener` once when the connection ends, with the reason (at once, asynchronously, if it
   * already has). Returns a function that unregisters it.
   */
  onClose(listener: (err: KbrokerError) => void): () => void {
    const failure = this.failure;
    if (failure !== undefined) {
      let cancelled = false;
      queueMicrotask(() => {
        if (!cancelled) listener(failure);
      });
      return () => {
        cancelled = true;
      };
    }
    this.closeListeners.add(listener);
    return () => {
      this.closeListeners.delete(listener);
    };
  }

  /**
   * Closes the connection: pending requests reject with `ConnectionError`, timers are cleared and the
   * socket destroyed. Resolves once the socket has released its handle. Idempotent.
   */
  close(): Promise<void> {
    this.fail(new ConnectionError(`connection to ${this.key} closed by the client`, { requestSent: true }));
    return this.socketClosed;
  }

  private async handshake(): Promise<HelloInfo> {
    try {
      await new Promise<void>((resolve, reject) => {
        const onConnect = (): void => {
          cancel();
          resolve();
        };
        const onClosed = (err: KbrokerError): void => {
          this.socket.off(this.options.tls === undefined ? 'connect' : 'secureConnect', onConnect);
          reject(err);
        };
        const cancel = this.onClose(onClosed);
        this.socket.once(this.options.tls === undefined ? 'connect' : 'secureConnect', onConnect);
      });
      this.socket.setNoDelay(true);
      const req: ApiRequest<'hello'> = {
        clientId: this.options.clientId,
        protocolVersion: PROTOCOL_VERSION,
        ...(this.options.clusterId === undefined ? {} : { clusterId: this.options.clusterId }),
      };
      const res = await this.send('hello', req, { timeoutMs: this.options.connectionTimeoutMs });
      const hello = res as HelloInfo;
      if (typeof hello !== 'object' || hello === null || typeof hello.protocolVersion !== 'number') {
        throw new ProtocolError(`broker ${this.key} sent a malformed hello response`);
      }
      if (hello.protocolVersion !== PROTOCOL_VERSION) {
        throw new UnsupportedVersionError(
          'UNSUPPORTED_VERSION',
          `broker ${this.key} speaks protocol version ${hello.protocolVersion}, this client ${PROTOCOL_VERSION}`,
        );
      }
      // Checked here as well as by the broker: a broker that ignores `clusterId` must not be trusted.
      if (this.options.clusterId !== undefined && hello.clusterId !== this.options.clusterId) {
        throw new InconsistentClusterIdError(
          'INCONSISTENT_CLUSTER_ID',
          `broker ${this.key} belongs to cluster '${hello.clusterId}', not '${this.options.clusterId}'`,
        );
      }
      if (this.options.sasl !== undefined) await this.authenticate(this.options.sasl);
      if (this.failure !== undefined) throw this.failure;
      this.hello = hello;
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
      return hello;
    } catch (err) {
      const reason = err as KbrokerError;
      this.fail(reason);
      throw reason;
    }
  }

  /** SCRAM-SHA-256 over saslStart/saslFinish; the broker's signature is checked as well. */
  private async authenticate(sasl: ClientSasl): Promise<void> {
    const timeoutMs = this.options.connectionTimeoutMs;
    const clientNonce = newNonce();
    const challenge = (await this.send(
      'saslStart',
      { mechanism: SCRAM_MECHANISM, user: sasl.username, clientNonce },
      { timeoutMs },
    )) as ApiResponse<'saslStart'>;
    if (
      typeof challenge?.salt !== 'string' ||
      typeof challenge.nonce !== 'string' ||
      !challenge.nonce.startsWith(clientNonce) ||
      typeof challenge.iterations !== 'number' ||
      challenge.iterations < 1024 ||
      challenge.iterations > 1_000_000
    ) {
      throw new ProtocolError(`broker ${this.key} sent a malformed authentication challenge`);
    }
    const { proof, expectedServerSignature } = scramClientProof(
      sasl.username,
      sasl.password,
      clientNonce,
      challenge,
    );
    const done = (await this.send(
      'saslFinish',
      { nonce: challenge.nonce, proof },
      { timeoutMs },
    )) as ApiResponse<'saslFinish'>;
    const signature = Buffer.from(
      typeof done?.serverSignature === 'string' ? done.serverSignature : '',
      'base64',
    );
    if (!signature.equals(expectedServerSignature)) {
      // The broker does not know the password's hash: it is not the cluster the user trusts.
      throw new AuthenticationError(
        'SASL_AUTHENTICATION_FAILED',
        `broker ${this.key} could not prove it knows the credentials of ${sasl.username}`,
      );
    }
  }

  private send(api: ApiName, body: unknown, options: RequestOptions): Promise<unknown> {
    const id = this.nextId;
    this.nextId = id >= MAX_REQUEST_ID ? 1 : id + 1;
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
    let frame: Buffer;
    try {
      frame = encodeFrame({ id, api, timeoutMs, body });
    } catch (err) {
      return Promise.reject(
        new ProtocolError(`cannot encode ${api} request: ${(err as Error).message}`, { cause: err }),
      );
    }
    // The broker would drop the connection on an oversized frame (failing every request on it).
    if (frame.length - FRAME_HEADER_BYTES > this.maxFrameBytes) {
      return Promise.reject(
        new ProtocolError(
          `${api} request of ${frame.length - FRAME_HEADER_BYTES} bytes exceeds the frame limit of ${this.maxFrameBytes} bytes`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        if (api === 'watch') this.dropEarlyEvents();
        reject(new RequestTimeoutError(`${api} request to ${this.key} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { api, resolve, reject, timer, onBody: options.onBody });
      this.write(frame);
    });
  }

  /**
   * Writes a frame; the frames written in one tick (many concurrent callers) leave in one system call:
   * the socket is corked on the first and uncorked on the next tick.
   */
  private write(frame: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(frame);
  }

  private onData(chunk: Buffer): void {
    if (this.failure !== undefined) return;
    try {
      // Returning false stops the decoder when a frame ended the connection.
      this.decoder.feed(chunk, (value) => {
        this.dispatch(value);
        return this.failure === undefined;
      });
    } catch (err) {
      this.fail(new ProtocolError(`bad frame from ${this.key}: ${(err as Error).message}`, { cause: err }));
    }
  }

  private dispatch(value: unknown): void {
    if (typeof value !== 'object' || value === null) {
      this.fail(new ProtocolError(`unexpected frame from ${this.key}: ${typeof value}`));
      return;
    }
    const frame = value as Partial<{ id: number; body: unknown; error: WireError } & EventFrame>;
    if (typeof frame.id === 'number') {
      const pending = this.pending.get(frame.id);
      if (pending === undefined) return; // answered after we stopped waiting
      this.pending.delete(frame.id);
      clearTimeout(pending.timer);
      if (pending.api === 'watch') queueMicrotask(() => this.dropEarlyEvents());
      if (frame.error !== undefined && frame.error !== null) {
        pending.reject(fromWire(frame.error));
        return;
      }
      try {
        pending.onBody?.(frame.body);
      } catch (err) {
        pending.reject(
          new ProtocolError(`bad ${pending.api} response from ${this.key}: ${(err as Error).message}`, {
            cause: err,
          }),
        );
        return;
      }
      pending.resolve(frame.body);
      return;
    }
    if (typeof frame.watch === 'number' && Array.isArray(frame.events)) {
      const handler = this.eventHandlers.get(frame.watch);
      if (handler !== undefined) handler(frame as EventFrame);
      else if (this.watchPending()) {
        const early = this.early.get(frame.watch);
        if (early === undefined) this.early.set(frame.watch, [frame as EventFrame]);
        else early.push(frame as EventFrame);
      }
      return;
    }
    this.fail(new ProtocolError(`unexpected frame from ${this.key}: neither a response nor an event`));
  }

  private watchPending(): boolean {
    for (const p of this.pending.values()) if (p.api === 'watch') return true;
    return false;
  }

  /** Forgets early events nobody can claim any more (no `watch` request is pending). */
  private dropEarlyEvents(): void {
    if (this.early.size > 0 && !this.watchPending()) this.early.clear();
  }

  /** Ends the connection once; later calls are no-ops. */
  private fail(reason: KbrokerError): void {
    if (this.failure !== undefined) return;
    this.failure = reason;
    if (this.connectTimer !== undefined) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.eventHandlers.clear();
    this.early.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      // Every pending request was written; whether the broker processed it is unknown.
      p.reject(
        reason instanceof ConnectionError && reason.requestSent
          ? reason
          : new ConnectionError(`connection to ${this.key} ended: ${reason.message}`, {
              requestSent: true,
              cause: reason,
            }),
      );
    }
    this.socket.destroy();
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    for (const listener of listeners) listener(reason);
  }
}
