import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import tls from 'node:tls';
import type {
  ApiName,
  ApiRequest,
  ApiResponse,
  EventFrame,
  RequestFrame,
  ResponseFrame,
  WireError,
} from '@kbroker/client/protocol';
import { DEFAULT_MAX_FRAME_BYTES } from '@kbroker/client/protocol';
import { encodeFrame, FrameDecoder } from '@kbroker/wire';
import type { Logger } from 'pino';
import type { Permission } from './security.js';

/** A served connection, as handlers see it (watches push event frames to it). */
export interface Session {
  readonly id: number;
  readonly remote: string;
  clientId: string;
  /** The authenticated user (SCRAM), if any; undefined for an anonymous connection. */
  principal: string | undefined;
  /** What the principal may do; undefined when not authenticated. */
  permission: Permission | undefined;
  push(frame: EventFrame): boolean;
  onClose(fn: () => void): void;
}

export type Handler<A extends ApiName> = (
  body: ApiRequest<A>,
  session: Session,
  deadline: { timeoutMs: number },
) => Promise<ApiResponse<A>> | ApiResponse<A>;

export type Handlers = { [A in ApiName]?: Handler<A> };

/** Turns a thrown value into the wire's error shape (typed errors keep their code). */
export type ErrorMapper = (err: unknown) => WireError;

export interface RpcServerOptions {
  readonly host: string;
  readonly port: number;
  readonly handlers: Handlers;
  readonly toWireError: ErrorMapper;
  readonly logger: Logger;
  readonly maxFrameBytes?: number;
  /** A request's own timeout is capped at this. */
  readonly maxRequestTimeoutMs?: number;
  /** Pending responses and events per connection beyond which a slow reader is disconnected. */
  readonly maxBufferedBytes?: number;
  /** Serve over TLS with these options (cert, key, and for client certificates ca + requestCert). */
  readonly tls?: tls.TlsOptions | undefined;
}

const PRE_HELLO_MAX_FRAME_BYTES = 64 * 1024;
/** Requests of one connection being served at once; beyond it the connection is not read. */
const MAX_INFLIGHT_REQUESTS = 1024;

/** A client frame that is not a request: the connection is closed (after a log line). */
export class MalformedRequestError extends Error {
  override readonly name = 'MalformedRequestError';
  readonly code = 'MALFORMED_REQUEST' as const;
}

/**
 * Checks the envelope of a decoded client frame: a map with a safe-integer `id`, a string `api` of at
 * most 64 characters, an optional numeric `timeoutMs` and an optional map `body`. The body's fields are
 * each handler's to check (a bad one is answered with an error, not a closed connection).
 */
export function decodeRequestFrame(raw: unknown): RequestFrame {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new MalformedRequestError('a request must be a map');
  const req = raw as Partial<Record<keyof RequestFrame, unknown>>;
  if (typeof req.id !== 'number' || !Number.isSafeInteger(req.id))
    throw new MalformedRequestError('a request needs an integer id');
  if (typeof req.api !== 'string' || req.api.length === 0 || req.api.length > 64)
    throw new MalformedRequestError('a request needs an api name');
  if (req.timeoutMs !== undefined && req.timeoutMs !== null && typeof req.timeoutMs !== 'number')
    throw new MalformedRequestError('timeoutMs must be a number');
  if (
    req.body !== undefined &&
    req.body !== null &&
    (typeof req.body !== 'object' || Array.isArray(req.body))
  )
    throw new MalformedRequestError('the request body must be a map');
  return raw as RequestFrame;
}

/**
 * The client listener: length-prefixed msgpackr frames, a `hello` first, then requests answered by id
 * in any order. A malformed or oversized frame closes only that connection (the others keep being
 * served); an unknown API or a malformed request gets an error response and the connection stays.
 */
export class RpcServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private nextSession = 1;
  private readonly opts: RpcServerOptions;

  constructor(opts: RpcServerOptions) {
    this.opts = opts;
  }

  async start(): Promise<AddressInfo> {
    const secure = this.opts.tls;
    const server =
      secure === undefined
        ? net.createServer((socket) => this.accept(socket))
        : tls.createServer(secure, (socket) => this.accept(socket));
    if (secure !== undefined) {
      server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
        this.opts.logger.warn(
          { remote: `${socket.remoteAddress}:${socket.remotePort}`, reason: err.message },
          'refusing a client connection: TLS handshake failed',
        );
      });
    }
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const log = this.opts.logger;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const decoder = new FrameDecoder({ maxFrameBytes: PRE_HELLO_MAX_FRAME_BYTES });
    const closers: (() => void)[] = [];
    const maxBuffered = this.opts.maxBufferedBytes ?? 64 * 1024 * 1024;
    const send = (frame: ResponseFrame | EventFrame): boolean => {
      if (socket.destroyed) return false;
      if (socket.writableLength > maxBuffered) {
        log.warn(
          { remote, bufferedBytes: socket.writableLength },
          'client does not read its responses; disconnecting',
        );
        socket.destroy();
        return false;
      }
      socket.write(encodeFrame(frame));
      return true;
    };
    const session: Session = {
      id: this.nextSession++,
      remote,
      clientId: '',
      principal: undefined,
      permission: undefined,
      push: (frame) => send(frame),
      onClose: (fn) => closers.push(fn),
    };
    let inflight = 0;
    /** 'new': only a hello may come; 'greeting': its answer is pending; 'ready': requests flow. */
    let state: 'new' | 'greeting' | 'ready' = 'new';
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.feed(chunk, (raw) => {
          const req = decodeRequestFrame(raw);
          if (state !== 'ready') {
            if (state === 'greeting' || req.api !== 'hello')
              throw new MalformedRequestError(
                `the first request must be a hello answered before any other, not ${req.api}`,
              );
            state = 'greeting';
            void this.greet(req, session, send).then((accepted) => {
              if (!accepted) {
                // The refusal (another cluster, a bad hello) was answered; nothing else is served here.
                socket.end();
                return;
              }
              state = 'ready';
              decoder.maxFrameBytes = this.opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
            });
            return !socket.destroyed;
          }
          inflight++;
          if (inflight >= MAX_INFLIGHT_REQUESTS && !socket.isPaused()) {
            // Bounded work per connection: read no more requests until answers catch up.
            socket.pause();
          }
          void this.dispatch(req, session, send).finally(() => {
            inflight--;
            if (inflight < MAX_INFLIGHT_REQUESTS / 2 && socket.isPaused() && !socket.destroyed)
              socket.resume();
          });
          return !socket.destroyed;
        });
      } catch (err) {
        log.warn({ remote, err: (err as Error).message }, 'closing a client connection after a bad frame');
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      for (const fn of closers) fn();
    });
  }

  /** Answers a hello; false when it was refused (the answer is then an error). */
  private async greet(
    req: RequestFrame,
    session: Session,
    send: (f: ResponseFrame) => boolean,
  ): Promise<boolean> {
    let refused: WireError | undefined;
    await this.dispatch(req, session, (frame) => {
      if ('error' in frame && frame.error !== undefined) refused = frame.error;
      return send(frame);
    });
    if (refused === undefined) return true;
    const body = (req.body ?? {}) as { clientId?: unknown; clusterId?: unknown };
    this.opts.logger.warn(
      {
        remote: session.remote,
        clientId: String(body.clientId ?? ''),
        peerClusterId: body.clusterId,
        code: refused.code,
        reason: refused.message,
      },
      'refusing a client hello',
    );
    return false;
  }

  private async dispatch(
    req: RequestFrame,
    session: Session,
    send: (f: ResponseFrame) => boolean,
  ): Promise<void> {
    const handler = this.opts.handlers[req.api] as Handler<ApiName> | undefined;
    if (handler === undefined) {
      send({
        id: req.id,
        error: {
          code: 'UNSUPPORTED_VERSION',
          errorCode: 35,
          message: `unknown api ${String(req.api)}`,
          retriable: false,
        },
      });
      return;
    }
    const cap = this.opts.maxRequestTimeoutMs ?? 120_000;
    const timeoutMs = Math.min(
      typeof req.timeoutMs === 'number' && req.timeoutMs > 0 ? req.timeoutMs : 30_000,
      cap,
    );
    let timer: NodeJS.Timeout | undefined;
    try {
      const body = req.body ?? {};
      if (typeof body !== 'object')
        throw Object.assign(new Error('the request body must be a map'), { code: 'INVALID_REQUEST' });
      // A newer client speaks down to us: the hello answer carries the version we speak.
      if (req.api === 'hello') session.clientId = String((body as ApiRequest<'hello'>).clientId ?? '');
      const result = await Promise.race([
        Promise.resolve(handler(body as never, session, { timeoutMs })),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                Object.assign(new Error(`${req.api} timed out after ${timeoutMs} ms`), {
                  code: 'REQUEST_TIMED_OUT',
                }),
              ),
            timeoutMs,
          );
        }),
      ]);
      send({ id: req.id, body: result });
    } catch (err) {
      send({ id: req.id, error: this.opts.toWireError(err) });
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}
