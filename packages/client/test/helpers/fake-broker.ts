/**
 * A scriptable broker speaking the client protocol over real TCP (encodeFrame / FrameDecoder), for
 * testing the client without a cluster. Each API has a handler returning the reply; the defaults
 * answer `hello` (refusing another cluster id) and `describeCluster` (this broker as the only broker
 * and the controller). Every request is logged with the connection it came on.
 */
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder } from '@kbroker/wire';
import type { ApiName, Endpoint, MetadataEvent, WireError } from '../../src/protocol.js';

export interface FakeRequest {
  readonly id: number;
  readonly api: ApiName;
  readonly timeoutMs: number | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary request bodies
  readonly body: any;
  readonly conn: FakeConn;
}

/**
 * What a handler answers: a body, an error, `drop` (destroy the connection without answering),
 * `ignore` (never answer) or `raw` (answer with this exact frame value).
 */
export type Reply =
  | { readonly body: unknown }
  | { readonly error: WireError }
  | { readonly raw: unknown }
  | 'drop'
  | 'ignore';

export type Handler = (req: FakeRequest) => Reply | Promise<Reply>;

/** Builds a WireError as the broker would send it. */
export function wireError(
  code: string,
  errorCode: number,
  retriable: boolean,
  extra: Partial<WireError> = {},
): {
  error: WireError;
} {
  return { error: { code, errorCode, message: `${code} (fake)`, retriable, ...extra } };
}

/** The server side of one client connection. */
export class FakeConn {
  readonly closed: Promise<void>;
  constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }
  send(value: unknown): void {
    if (!this.socket.destroyed) this.socket.write(encodeFrame(value));
  }
  event(watch: number, events: readonly MetadataEvent[]): void {
    this.send({ watch, events });
  }
  destroy(): void {
    this.socket.destroy();
  }
}

export interface FakeBrokerOptions {
  readonly nodeId?: number;
  readonly clusterId?: string;
  /** describeCluster's controller endpoint; default this broker. null = none known. */
  readonly controller?: Endpoint | null;
}

export class FakeBroker {
  readonly requests: FakeRequest[] = [];
  readonly connections = new Set<FakeConn>();
  readonly handlers = new Map<ApiName, Handler>();
  /** Number of connections ever accepted. */
  accepted = 0;
  controller: Endpoint | null | undefined;
  private waiters: { pred: () => boolean; resolve: () => void }[] = [];

  private constructor(
    private readonly server: Server,
    readonly nodeId: number,
    readonly clusterId: string,
    controller: Endpoint | null | undefined,
  ) {
    this.controller = controller;
    this.handlers.set('hello', (req) => {
      if (req.body.clusterId !== undefined && req.body.clusterId !== this.clusterId) {
        return wireError('INCONSISTENT_CLUSTER_ID', 104, false);
      }
      return {
        body: { protocolVersion: 1, clusterId: this.clusterId, nodeId: this.nodeId, roles: ['broker'] },
      };
    });
    this.handlers.set('describeCluster', () => ({ body: this.describeCluster() }));
  }

  static async start(options: FakeBrokerOptions = {}): Promise<FakeBroker> {
    const server = net.createServer();
    const broker = new FakeBroker(
      server,
      options.nodeId ?? 1,
      options.clusterId ?? 'fake-cluster',
      options.controller,
    );
    server.on('connection', (socket) => broker.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return broker;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get endpoint(): Endpoint {
    return { host: '127.0.0.1', port: this.port };
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  describeCluster(): unknown {
    return {
      clusterId: this.clusterId,
      controllerId: this.nodeId,
      controllerEndpoint: this.controller === undefined ? this.endpoint : this.controller,
      brokers: [
        {
          id: this.nodeId,
          epoch: 1,
          host: '127.0.0.1',
          port: this.port,
          rack: null,
          fenced: false,
          inControlledShutdown: false,
        },
      ],
      metadataOffset: 0,
    };
  }

  on(api: ApiName, handler: Handler): this {
    this.handlers.set(api, handler);
    return this;
  }

  /** Requests of one API, in arrival order. */
  received(api: ApiName): FakeRequest[] {
    return this.requests.filter((r) => r.api === api);
  }

  /** Resolves once `count` requests of `api` have arrived. */
  waitFor(api: ApiName, count = 1): Promise<FakeRequest> {
    return this.until(() => this.received(api).length >= count).then(() => this.received(api)[count - 1]!);
  }

  /** Resolves once no client connection is open. */
  waitForNoConnections(): Promise<void> {
    return this.until(() => this.connections.size === 0);
  }

  /** Destroys every client connection. */
  dropAll(): void {
    for (const c of this.connections) c.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private until(pred: () => boolean): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  private check(): void {
    const ready = this.waiters.filter((w) => w.pred());
    this.waiters = this.waiters.filter((w) => !w.pred());
    for (const w of ready) w.resolve();
  }

  private accept(socket: Socket): void {
    this.accepted++;
    const conn = new FakeConn(socket);
    this.connections.add(conn);
    const decoder = new FrameDecoder();
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.connections.delete(conn);
      this.check();
    });
    socket.on('data', (chunk: Buffer) => {
      for (const value of decoder.push(chunk)) {
        const frame = value as { id: number; api: ApiName; timeoutMs?: number; body: unknown };
        const req: FakeRequest = {
          id: frame.id,
          api: frame.api,
          timeoutMs: frame.timeoutMs,
          body: frame.body,
          conn,
        };
        this.requests.push(req);
        void this.handle(req);
      }
      this.check();
    });
    this.check();
  }

  private async handle(req: FakeRequest): Promise<void> {
    const handler = this.handlers.get(req.api);
    const reply: Reply = handler === undefined ? wireError('INVALID_REQUEST', 42, false) : await handler(req);
    if (reply === 'drop') req.conn.destroy();
    else if (reply === 'ignore') return;
    else if ('raw' in reply) req.conn.send(reply.raw);
    else if ('error' in reply) req.conn.send({ id: req.id, error: reply.error });
    else req.conn.send({ id: req.id, body: reply.body });
  }
}
