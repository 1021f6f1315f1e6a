/**
 * The Raft transport over plain TCP.
 *
 * Each node dials every peer it sends to and sends only on those outbound connections; accepted
 * connections only receive. A connection carries frames (see `frame.ts`): the dialer's `hello`,
 * the acceptor's `welcome` or `reject`, then the dialer's payloads as `msg` frames.
 *
 * Ordering (the `Transport` promise): a peer's payloads are queued in send order and written to at
 * most one outbound connection at a time; the queue only ever loses a prefix (stale payloads) or
 * the newest payload (full queue), and a broken connection loses what was written to it. So what
 * arrives is a subsequence of what was sent, in order. On the receiving side the newest handshaken
 * connection from a node replaces any older one, whose unread bytes are dropped rather than
 * delivered after newer ones.
 */
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import tls from 'node:tls';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from '@kbroker/wire';
import { type Logger, pino } from 'pino';
import type { NodeId } from '../core/types.js';
import type { Transport } from '../ports.js';

/** The handshake version this implementation speaks. */
export const PROTOCOL_VERSION = 1;

export type RejectCode = 'INVALID_CLUSTER_ID' | 'UNSUPPORTED_VERSION' | 'DUPLICATE_NODE_ID';

/** Dialer -> acceptor, first frame of every connection. */
export interface HelloFrame {
  readonly t: 'hello';
  readonly v: number;
  readonly clusterId: string;
  readonly nodeId: NodeId;
  /** Where the dialer's own listener is reachable, so the acceptor can dial back. */
  readonly address?: string;
}

/** Acceptor -> dialer: the handshake succeeded; payload frames may follow. */
export interface WelcomeFrame {
  readonly t: 'welcome';
  readonly v: number;
  readonly nodeId: NodeId;
  readonly clusterId: string;
}

/** Acceptor -> dialer: the handshake failed; the acceptor closes the connection. */
export interface RejectFrame {
  readonly t: 'reject';
  readonly code: RejectCode;
  readonly message: string;
}

/** Dialer -> acceptor: one payload. */
export interface MsgFrame<T> {
  readonly t: 'msg';
  readonly p: T;
}

/**
 * Mutual TLS for the quorum: PEM contents (not paths). Both sides present `cert` and accept only peers
 * whose certificate chains to `ca`; the host name is not checked (peers are dialled by address, and the
 * cluster CA is the trust anchor). A node without a certificate from the CA cannot connect, so it can
 * neither join nor vote.
 */
export interface QuorumTlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca: string | Buffer;
}

export interface TcpTransportOptions {
  readonly nodeId: NodeId;
  /** Mutual TLS on the listener and on every outbound connection. Absent: plain TCP. */
  readonly tls?: QuorumTlsOptions | undefined;
  /** Connections between nodes with different cluster ids are refused. */
  readonly clusterId: string;
  /** Where to listen. Absent: this node only dials (it receives nothing). */
  readonly listen?: { readonly host: string; readonly port: number } | undefined;
  /**
   * `host:port` sent in the hello so acceptors can dial back. Default: the bound address when
   * listening on a specific host; nothing when listening on a wildcard host (0.0.0.0, ::).
   */
  readonly advertisedAddress?: string;
  readonly logger?: Logger;
  /** The largest frame body sent or accepted. Default 16 MiB. */
  readonly maxFrameBytes?: number;
  /** Encoded payloads queued per peer beyond which new payloads are dropped. Default 64 MiB. */
  readonly maxQueuedBytesPerPeer?: number;
  /** Reconnect delay: starts at `initial`, doubles per failure up to `max`, jittered down to half. */
  readonly reconnectBackoffMs?: { readonly initial?: number; readonly max?: number };
  /** Source of jitter in [0, 1). Default Math.random. */
  readonly random?: () => number;
  /** Limit on establishing the TCP connection. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Limit on the hello/welcome exchange, on both sides. Default 5000. */
  readonly handshakeTimeoutMs?: number;
}

export interface PeerStats {
  /** Encoded bytes waiting for the connection (not yet handed to the socket). */
  readonly queuedBytes: number;
  readonly queuedPayloads: number;
  /** Payloads handed to a handshaken socket. */
  readonly sent: number;
  /** Payloads dropped: full queue, stale after failed reconnects, or unencodable. */
  readonly dropped: number;
  /** Payloads received from this peer and passed to the handler. */
  readonly received: number;
  /** True while the outbound connection is handshaken. */
  readonly connected: boolean;
  readonly address: string | undefined;
}

const DEFAULT_MAX_QUEUED_BYTES_PER_PEER = 64 * 1024 * 1024;
const DEFAULT_BACKOFF_INITIAL_MS = 50;
const DEFAULT_BACKOFF_MAX_MS = 2000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
/** Frames before the handshake completes are small; an unknown peer may not make us buffer 16 MiB. */
const HANDSHAKE_MAX_FRAME_BYTES = 64 * 1024;
/** Frames coalesced into one socket write. A single larger frame is still written whole. */
const MAX_WRITE_BATCH_BYTES = 256 * 1024;
/** How long a rejected dialer gets to read the reject before the acceptor destroys the socket. */
const REJECT_LINGER_MS = 1000;
/** Consumed queue slots are compacted away once there are this many and they are over half. */
const QUEUE_COMPACT_THRESHOLD = 4096;

type OutboundState =
  /** No socket, no timer. A send starts a connection (if the address is known). */
  | 'idle'
  | 'connecting'
  /** Hello sent; waiting for welcome. Payloads queue. */
  | 'handshaking'
  /** Welcome received; the queue is flushed to the socket. */
  | 'ready'
  /** Waiting out the reconnect delay. */
  | 'backoff';

interface Peer {
  readonly id: NodeId;
  address: string | undefined;
  /** Set by setPeerAddress; a learned (hello) address never overrides it. */
  addressExplicit: boolean;
  state: OutboundState;
  /** The outbound socket; set exactly in states connecting, handshaking and ready. */
  socket: Socket | undefined;
  /** Connect/handshake timeout or backoff timer, whichever the state needs. */
  timer: NodeJS.Timeout | undefined;
  /** The base of the next reconnect delay. */
  backoffMs: number;
  /** Bumped each time a connection attempt fails or a connection breaks. */
  cycle: number;
  /** Encoded frames `frames[head..]`, oldest first, with the cycle each was queued in. */
  frames: Buffer[];
  frameCycles: number[];
  head: number;
  queuedBytes: number;
  sent: number;
  dropped: number;
  received: number;
  /** The socket refused more (write returned false); wait for 'drain'. */
  writeBlocked: boolean;
  flushScheduled: boolean;
  /** A drop was logged since the queue last emptied; keeps a full queue from flooding the log. */
  dropLogged: boolean;
}

interface InboundConnection {
  readonly socket: Socket;
  readonly remote: string;
  readonly decoder: FrameDecoder;
  /** Set once the hello was accepted. */
  peerId: NodeId | undefined;
  /** Handshake timeout, or the linger after a reject. */
  timer: NodeJS.Timeout | undefined;
  /** No more frames from this connection are processed. */
  closing: boolean;
}

export class TcpTransport<T> implements Transport<T> {
  private readonly nodeId: NodeId;
  private readonly clusterId: string;
  private readonly log: Logger;
  private readonly maxFrameBytes: number;
  private readonly maxQueuedBytesPerPeer: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly random: () => number;
  private readonly connectTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly listenOn: { readonly host: string; readonly port: number } | undefined;
  private readonly tls: QuorumTlsOptions | undefined;
  private advertisedAddress: string | undefined;

  private readonly peers = new Map<NodeId, Peer>();
  private readonly inbound = new Set<InboundConnection>();
  /** The current handshaken inbound connection per node. */
  private readonly inboundByPeer = new Map<NodeId, InboundConnection>();
  private handler: ((from: NodeId, payload: T) => void) | undefined;
  private server: Server | undefined;
  private closed = false;
  private closePromise: Promise<void> | undefined;

  constructor(options: TcpTransportOptions) {
    if (!isValidNodeId(options.nodeId)) throw new TypeError(`invalid nodeId ${String(options.nodeId)}`);
    if (options.advertisedAddress !== undefined) parseAddress(options.advertisedAddress);
    this.nodeId = options.nodeId;
    this.clusterId = options.clusterId;
    this.listenOn = options.listen;
    this.tls = options.tls;
    this.advertisedAddress = options.advertisedAddress;
    this.log = (options.logger ?? pino({ enabled: false })).child({
      component: 'tcp-transport',
      nodeId: options.nodeId,
    });
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxQueuedBytesPerPeer = options.maxQueuedBytesPerPeer ?? DEFAULT_MAX_QUEUED_BYTES_PER_PEER;
    this.backoffInitialMs = options.reconnectBackoffMs?.initial ?? DEFAULT_BACKOFF_INITIAL_MS;
    this.backoffMaxMs = Math.max(
      this.backoffInitialMs,
      options.reconnectBackoffMs?.max ?? DEFAULT_BACKOFF_MAX_MS,
    );
    this.random = options.random ?? Math.random;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  }

  /** Binds the listener, if one was configured. Port 0 picks a free port; see `address()`. */
  async start(): Promise<void> {
    if (this.closed) throw new Error('TcpTransport: start() after close()');
    if (this.server !== undefined) throw new Error('TcpTransport: start() called twice');
    const listen = this.listenOn;
    if (listen === undefined) return;
    const q = this.tls;
    const server =
      q === undefined
        ? net.createServer((socket) => this.accept(socket))
        : tls.createServer(
            {
              cert: q.cert,
              key: q.key,
              ca: q.ca,
              requestCert: true,
              rejectUnauthorized: true,
              minVersion: 'TLSv1.2',
              handshakeTimeout: this.handshakeTimeoutMs,
            },
            (socket) => this.accept(socket),
          );
    if (q !== undefined) {
      // A dialer without a certificate from the cluster CA (or with no TLS at all) never gets to send
      // a frame: refused here, and said so.
      server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
        if (this.closed) return;
        this.log.warn(
          {
            remote: formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0),
            reason: errorText(err),
          },
          'refusing a quorum connection: TLS handshake failed',
        );
      });
    }
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err }, 'listener error'));
    const bound = server.address() as AddressInfo;
    if (this.advertisedAddress === undefined && !isWildcardHost(listen.host)) {
      this.advertisedAddress = formatAddress(listen.host, bound.port);
    }
    this.log.info({ address: formatAddress(bound.address, bound.port) }, 'listening');
  }

  /** The bound listener address, once `start()` resolved; undefined when not listening. */
  address(): AddressInfo | undefined {
    const bound = this.server?.address();
    return bound !== null && typeof bound === 'object' ? bound : undefined;
  }

  /** The address sent in hello frames, if any. */
  getAdvertisedAddress(): string | undefined {
    return this.advertisedAddress;
  }

  onReceive(handler: (from: NodeId, payload: T) => void): void {
    this.handler = handler;
  }

  /** Throws on an address that is not `host:port`: that is a configuration error. */
  setPeerAddress(id: NodeId, address: string): void {
    parseAddress(address);
    const peer = this.peer(id);
    peer.addressExplicit = true;
    this.updateAddress(peer, address);
  }

  send(to: NodeId, payload: T): void {
    if (this.closed) return;
    const peer = this.peer(to);
    let frame: Buffer;
    try {
      frame = encodeFrame({ t: 'msg', p: payload } satisfies MsgFrame<T>);
    } catch (err) {
      peer.dropped++;
      this.log.error({ err, peer: to }, 'cannot encode payload; dropped');
      return;
    }
    if (frame.length - FRAME_HEADER_BYTES > this.maxFrameBytes) {
      peer.dropped++;
      this.log.error(
        { peer: to, bytes: frame.length - FRAME_HEADER_BYTES, maxFrameBytes: this.maxFrameBytes },
        'payload exceeds the frame limit; dropped',
      );
      return;
    }
    if (!this.enqueue(peer, frame)) return;
    if (peer.state === 'ready') this.scheduleFlush(peer);
    else if (peer.state === 'idle') this.connect(peer);
  }

  /** Per-peer counters, for every peer sent to, addressed or heard from. */
  stats(): Map<NodeId, PeerStats> {
    const out = new Map<NodeId, PeerStats>();
    for (const peer of this.peers.values()) {
      out.set(peer.id, {
        queuedBytes: peer.queuedBytes,
        queuedPayloads: peer.frames.length - peer.head,
        sent: peer.sent,
        dropped: peer.dropped,
        received: peer.received,
        connected: peer.state === 'ready',
        address: peer.address,
      });
    }
    return out;
  }

  /** Destroys every connection and timer; resolves when the listener and all sockets are closed. */
  close(): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    this.closed = true;
    const waits: Promise<void>[] = [];
    for (const peer of this.peers.values()) {
      clearTimer(peer);
      if (peer.socket !== undefined) waits.push(destroyAndWait(peer.socket));
      peer.socket = undefined;
      peer.state = 'idle';
      dropQueue(peer);
    }
    for (const conn of this.inbound) {
      clearTimer(conn);
      conn.closing = true;
      waits.push(destroyAndWait(conn.socket));
    }
    const server = this.server;
    if (server?.listening) {
      waits.push(new Promise<void>((resolve) => server.close(() => resolve())));
    }
    this.closePromise = Promise.all(waits).then(() => undefined);
    return this.closePromise;
  }

  // ---- outbound ----

  private peer(id: NodeId): Peer {
    let peer = this.peers.get(id);
    if (peer === undefined) {
      peer = {
        id,
        address: undefined,
        addressExplicit: false,
        state: 'idle',
        socket: undefined,
        timer: undefined,
        backoffMs: this.backoffInitialMs,
        cycle: 0,
        frames: [],
        frameCycles: [],
        head: 0,
        queuedBytes: 0,
        sent: 0,
        dropped: 0,
        received: 0,
        writeBlocked: false,
        flushScheduled: false,
        dropLogged: false,
      };
      this.peers.set(id, peer);
    }
    return peer;
  }

  /** Adds a frame to the peer's queue, making room by dropping stale frames; false if dropped. */
  private enqueue(peer: Peer, frame: Buffer): boolean {
    if (peer.queuedBytes + frame.length > this.maxQueuedBytesPerPeer && peer.state !== 'ready') {
      this.dropStale(peer);
    }
    if (peer.queuedBytes + frame.length > this.maxQueuedBytesPerPeer) {
      peer.dropped++;
      if (!peer.dropLogged) {
        peer.dropLogged = true;
        this.log.warn(
          { peer: peer.id, queuedBytes: peer.queuedBytes, state: peer.state },
          'send queue full; dropping payloads',
        );
      }
      return false;
    }
    peer.frames.push(frame);
    peer.frameCycles.push(peer.cycle);
    peer.queuedBytes += frame.length;
    return true;
  }

  private updateAddress(peer: Peer, address: string): void {
    if (peer.address === address) return;
    const previous = peer.address;
    peer.address = address;
    this.log.debug({ peer: peer.id, address, previous }, 'peer address set');
    if (this.closed) return;
    // A connection to the old address (or a wait to retry it) is abandoned; the new one is tried
    // at once, with the backoff starting over.
    if (peer.socket !== undefined) this.detachOutbound(peer, peer.socket);
    clearTimer(peer);
    peer.state = 'idle';
    peer.backoffMs = this.backoffInitialMs;
    if (peer.head < peer.frames.length) this.connect(peer);
  }

  /** Starts a connection; only from the idle state. Without an address the queue just waits. */
  private connect(peer: Peer): void {
    if (this.closed || peer.state !== 'idle' || peer.address === undefined) return;
    const { host, port } = parseAddress(peer.address);
    let socket: Socket;
    const q = this.tls;
    try {
      socket =
        q === undefined
          ? net.connect({ host, port })
          : tls.connect({
              host,
              port,
              cert: q.cert,
              key: q.key,
              ca: q.ca,
              minVersion: 'TLSv1.2',
              // Trust is the cluster CA; peers are dialled by address, which certificates need not name.
              checkServerIdentity: () => undefined,
            });
    } catch (err) {
      this.log.error({ err, peer: peer.id, address: peer.address }, 'cannot connect');
      this.scheduleReconnect(peer);
      return;
    }
    socket.setNoDelay(true);
    peer.socket = socket;
    peer.state = 'connecting';
    peer.writeBlocked = false;
    peer.timer = setTimeout(() => {
      this.failOutbound(peer, socket, 'debug', 'connect timeout');
    }, this.connectTimeoutMs);
    const decoder = new FrameDecoder({ maxFrameBytes: HANDSHAKE_MAX_FRAME_BYTES });

    // A TLS socket is ready for the hello once its handshake is done, not at the TCP connect.
    socket.on(q === undefined ? 'connect' : 'secureConnect', () => {
      if (peer.socket !== socket) return;
      clearTimer(peer);
      peer.state = 'handshaking';
      const hello: HelloFrame = {
        t: 'hello',
        v: PROTOCOL_VERSION,
        clusterId: this.clusterId,
        nodeId: this.nodeId,
        ...(this.advertisedAddress !== undefined ? { address: this.advertisedAddress } : {}),
      };
      socket.write(encodeFrame(hello));
      peer.timer = setTimeout(() => {
        this.failOutbound(peer, socket, 'warn', 'handshake timeout');
      }, this.handshakeTimeoutMs);
    });
    socket.on('data', (chunk: Buffer) => {
      if (peer.socket !== socket) return;
      try {
        decoder.feed(chunk, (frame) => this.onDialerFrame(peer, socket, frame));
      } catch (err) {
        this.failOutbound(peer, socket, 'warn', `bad frame from acceptor: ${errorText(err)}`);
      }
    });
    socket.on('drain', () => {
      if (peer.socket !== socket) return;
      peer.writeBlocked = false;
      this.flush(peer);
    });
    let lastError: Error | undefined;
    let tlsLogged = false;
    /** A refused certificate is a misconfiguration: loud on every attempt (at most once per backoff). */
    const tlsFailed = (reason: string) => {
      if (tlsLogged) return;
      tlsLogged = true;
      this.log.error({ peer: peer.id, address: peer.address, reason }, 'TLS handshake with peer failed');
    };
    socket.on('error', (err) => {
      lastError = err;
      if (q !== undefined && peer.socket === socket && peer.state !== 'ready' && isTlsFailure(err)) {
        tlsFailed(errorText(err));
      }
    });
    socket.on('close', () => {
      if (peer.socket !== socket) return;
      const wasReady = peer.state === 'ready';
      // With TLS 1.3 the dialer finishes its handshake before the acceptor has checked the dialer's
      // certificate; an acceptor that refuses it just closes, before answering the hello.
      if (q !== undefined && peer.state === 'handshaking') {
        tlsFailed(
          'the peer closed the connection before answering the hello (is our certificate from the cluster CA?)',
        );
      }
      this.detachOutbound(peer, socket);
      if (this.closed) return;
      if (wasReady) {
        this.log.info({ peer: peer.id, address: peer.address, err: lastError }, 'connection to peer lost');
      } else {
        // Refused connections to a peer that is down are routine; they repeat every backoff.
        this.log.debug({ peer: peer.id, address: peer.address, err: lastError }, 'connect failed');
      }
      this.scheduleReconnect(peer);
    });
  }

  /** Handles a frame on an outbound connection. Returns false once the connection is dropped. */
  private onDialerFrame(peer: Peer, socket: Socket, frame: unknown): boolean {
    if (peer.socket !== socket) return false;
    if (peer.state !== 'handshaking') {
      // The acceptor sends nothing after its welcome.
      this.failOutbound(peer, socket, 'warn', 'unexpected frame after handshake');
      return false;
    }
    if (isRecord(frame) && frame.t === 'reject') {
      // A misconfigured cluster must be loud: logged at error on every attempt (at most once per
      // backoff period).
      this.log.error(
        {
          peer: peer.id,
          address: peer.address,
          code: frame.code,
          reason: frame.message,
          clusterId: this.clusterId,
        },
        'peer rejected our handshake',
      );
      this.failOutbound(peer, socket, undefined, 'rejected');
      return false;
    }
    if (!isRecord(frame) || frame.t !== 'welcome') {
      this.failOutbound(peer, socket, 'warn', 'bad handshake reply');
      return false;
    }
    let problem: string | undefined;
    if (frame.v !== PROTOCOL_VERSION) problem = `unsupported protocol version ${String(frame.v)}`;
    else if (frame.clusterId !== this.clusterId) problem = 'INVALID_CLUSTER_ID';
    // The address belongs to another node: sending there would deliver to the wrong node.
    else if (frame.nodeId !== peer.id) problem = `address belongs to node ${String(frame.nodeId)}`;
    if (problem !== undefined) {
      this.log.error(
        {
          peer: peer.id,
          address: peer.address,
          reason: problem,
          clusterId: this.clusterId,
          peerClusterId: frame.clusterId,
          peerNodeId: frame.nodeId,
        },
        'peer handshake invalid',
      );
      this.failOutbound(peer, socket, undefined, problem);
      return false;
    }
    clearTimer(peer);
    peer.state = 'ready';
    peer.backoffMs = this.backoffInitialMs;
    this.log.info({ peer: peer.id, address: peer.address }, 'connected to peer');
    this.flush(peer);
    return true;
  }

  /** Drops the outbound connection now (logging once if `level`) and schedules a reconnect. */
  private failOutbound(
    peer: Peer,
    socket: Socket,
    level: 'warn' | 'debug' | undefined,
    reason: string,
  ): void {
    if (peer.socket !== socket) return;
    if (level !== undefined)
      this.log[level]({ peer: peer.id, address: peer.address, reason }, 'dropping connection');
    this.detachOutbound(peer, socket);
    this.scheduleReconnect(peer);
  }

  /** Forgets and destroys the outbound socket; the peer is left idle with its queue intact. */
  private detachOutbound(peer: Peer, socket: Socket): void {
    if (peer.socket !== socket) return;
    clearTimer(peer);
    peer.socket = undefined;
    peer.state = 'idle';
    peer.writeBlocked = false;
    peer.cycle++;
    socket.destroy();
  }

  /**
   * Drops what was queued before the last failed attempt or broken connection: the peer may have
   * been down for long, Raft resends from its own state, and stale frames would only cost memory
   * (and replay old traffic into a restarted peer). Dropping a prefix keeps the order.
   */
  private dropStale(peer: Peer): void {
    while (peer.head < peer.frames.length && peer.frameCycles[peer.head]! < peer.cycle) {
      peer.queuedBytes -= peer.frames[peer.head]!.length;
      peer.frames[peer.head] = EMPTY;
      peer.head++;
      peer.dropped++;
    }
    compactQueue(peer);
  }

  private scheduleReconnect(peer: Peer): void {
    if (this.closed || peer.state !== 'idle') return;
    this.dropStale(peer);
    // Equal jitter: between half and all of the base, so peers that failed together spread out.
    const delayMs = Math.round(peer.backoffMs * (0.5 + 0.5 * this.random()));
    peer.backoffMs = Math.min(peer.backoffMs * 2, this.backoffMaxMs);
    peer.state = 'backoff';
    peer.timer = setTimeout(() => {
      peer.timer = undefined;
      peer.state = 'idle';
      // Reconnect only with something to send: a peer nobody sends to any more (say, a departed
      // observer) is not dialled forever. The next send dials again.
      if (peer.head < peer.frames.length) this.connect(peer);
    }, delayMs);
  }

  private scheduleFlush(peer: Peer): void {
    if (peer.flushScheduled || peer.writeBlocked) return;
    peer.flushScheduled = true;
    // Once per tick: a burst of sends is coalesced into few large writes.
    queueMicrotask(() => {
      peer.flushScheduled = false;
      this.flush(peer);
    });
  }

  /** Writes queued frames until the queue is empty or the socket asks us to wait for 'drain'. */
  private flush(peer: Peer): void {
    const socket = peer.socket;
    if (peer.state !== 'ready' || socket === undefined || peer.writeBlocked) return;
    while (peer.head < peer.frames.length) {
      const start = peer.head;
      let bytes = 0;
      let end = start;
      while (end < peer.frames.length) {
        const size = peer.frames[end]!.length;
        if (end > start && bytes + size > MAX_WRITE_BATCH_BYTES) break;
        bytes += size;
        end++;
      }
      const data =
        end - start === 1 ? peer.frames[start]! : Buffer.concat(peer.frames.slice(start, end), bytes);
      for (let i = start; i < end; i++) peer.frames[i] = EMPTY;
      peer.head = end;
      peer.queuedBytes -= bytes;
      peer.sent += end - start;
      compactQueue(peer);
      if (!socket.write(data)) {
        peer.writeBlocked = true;
        return;
      }
    }
    peer.dropLogged = false;
  }

  // ---- inbound ----

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const conn: InboundConnection = {
      socket,
      remote: formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0),
      decoder: new FrameDecoder({ maxFrameBytes: HANDSHAKE_MAX_FRAME_BYTES }),
      peerId: undefined,
      timer: undefined,
      closing: false,
    };
    this.inbound.add(conn);
    conn.timer = setTimeout(() => this.dropInbound(conn, 'handshake timeout'), this.handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      if (conn.closing) return;
      try {
        conn.decoder.feed(chunk, (frame) => this.onAcceptorFrame(conn, frame));
      } catch (err) {
        this.dropInbound(conn, errorText(err));
      }
    });
    socket.on('error', () => {
      // 'close' follows; a reset by the peer needs no more than that.
    });
    socket.on('close', () => {
      clearTimer(conn);
      conn.closing = true;
      this.inbound.delete(conn);
      if (conn.peerId !== undefined && this.inboundByPeer.get(conn.peerId) === conn) {
        this.inboundByPeer.delete(conn.peerId);
      }
    });
  }

  /** Handles a frame on an accepted connection. Returns false once the connection is dropped. */
  private onAcceptorFrame(conn: InboundConnection, frame: unknown): boolean {
    if (conn.closing) return false;
    const from = conn.peerId;
    if (from !== undefined) {
      if (!isRecord(frame) || frame.t !== 'msg' || !('p' in frame)) {
        this.dropInbound(conn, 'unexpected frame type');
        return false;
      }
      const peer = this.peers.get(from);
      if (peer !== undefined) peer.received++;
      const handler = this.handler;
      if (handler !== undefined) {
        try {
          handler(from, frame.p as T);
        } catch (err) {
          // The handler's failure is not the connection's: keep receiving.
          this.log.error({ err, peer: from }, 'receive handler threw');
        }
      }
      return !conn.closing;
    }
    return this.onHello(conn, frame);
  }

  private onHello(conn: InboundConnection, frame: unknown): boolean {
    if (!isRecord(frame) || frame.t !== 'hello') {
      this.dropInbound(conn, 'first frame is not a hello');
      return false;
    }
    if (frame.v !== PROTOCOL_VERSION) {
      return this.reject(
        conn,
        frame,
        'UNSUPPORTED_VERSION',
        `protocol version ${String(frame.v)} is not supported`,
      );
    }
    if (frame.clusterId !== this.clusterId) {
      return this.reject(
        conn,
        frame,
        'INVALID_CLUSTER_ID',
        `cluster id ${JSON.stringify(frame.clusterId)} does not match ${JSON.stringify(this.clusterId)}`,
      );
    }
    const nodeId = frame.nodeId;
    if (!isValidNodeId(nodeId)) {
      this.dropInbound(conn, `invalid node id in hello: ${String(nodeId)}`);
      return false;
    }
    if (nodeId === this.nodeId) {
      return this.reject(conn, frame, 'DUPLICATE_NODE_ID', `node id ${nodeId} is this node's own id`);
    }
    const address = frame.address;
    if (address !== undefined && (typeof address !== 'string' || !isValidAddress(address))) {
      this.dropInbound(conn, `invalid address in hello: ${String(address)}`);
      return false;
    }

    clearTimer(conn);
    conn.peerId = nodeId;
    conn.decoder.maxFrameBytes = this.maxFrameBytes;
    const previous = this.inboundByPeer.get(nodeId);
    if (previous !== undefined) {
      // The dialer only opens a new connection after giving up the old one; anything still unread
      // on the old one was sent earlier and must not be delivered after the new one's payloads.
      this.log.info({ peer: nodeId, remote: previous.remote }, 'replacing older inbound connection');
      previous.closing = true;
      clearTimer(previous);
      previous.socket.destroy();
    }
    this.inboundByPeer.set(nodeId, conn);
    const welcome: WelcomeFrame = {
      t: 'welcome',
      v: PROTOCOL_VERSION,
      nodeId: this.nodeId,
      clusterId: this.clusterId,
    };
    conn.socket.write(encodeFrame(welcome));
    this.log.debug({ peer: nodeId, remote: conn.remote, address }, 'accepted peer');
    // Creating the peer here also makes inbound-only peers show up in stats().
    const peer = this.peer(nodeId);
    // Lets a leader reach an observer it only knows from the observer's own connection.
    if (address !== undefined && !peer.addressExplicit) this.updateAddress(peer, address);
    return true;
  }

  private reject(
    conn: InboundConnection,
    hello: Record<string, unknown>,
    code: RejectCode,
    message: string,
  ): false {
    this.log.warn(
      {
        remote: conn.remote,
        peerNodeId: hello.nodeId,
        code,
        reason: message,
        clusterId: this.clusterId,
        peerClusterId: hello.clusterId,
        peerVersion: hello.v,
      },
      'rejecting handshake',
    );
    conn.closing = true;
    clearTimer(conn);
    const reply: RejectFrame = { t: 'reject', code, message };
    conn.socket.end(encodeFrame(reply));
    // The dialer closes on reading the reject; a dialer that does not gets destroyed.
    conn.timer = setTimeout(() => conn.socket.destroy(), REJECT_LINGER_MS);
    return false;
  }

  /** Closes a bad or idle inbound connection, logging once. */
  private dropInbound(conn: InboundConnection, reason: string): void {
    if (conn.closing) return;
    conn.closing = true;
    clearTimer(conn);
    this.log.warn({ remote: conn.remote, peer: conn.peerId, reason }, 'dropping inbound connection');
    conn.socket.destroy();
  }
}

const EMPTY = Buffer.alloc(0);

function clearTimer(holder: { timer: NodeJS.Timeout | undefined }): void {
  if (holder.timer !== undefined) {
    clearTimeout(holder.timer);
    holder.timer = undefined;
  }
}

/** Removes consumed slots once they dominate the queue arrays (amortised O(1) per frame). */
function compactQueue(peer: Peer): void {
  if (peer.head === peer.frames.length) {
    peer.frames.length = 0;
    peer.frameCycles.length = 0;
    peer.head = 0;
  } else if (peer.head >= QUEUE_COMPACT_THRESHOLD && peer.head * 2 >= peer.frames.length) {
    peer.frames.splice(0, peer.head);
    peer.frameCycles.splice(0, peer.head);
    peer.head = 0;
  }
}

function dropQueue(peer: Peer): void {
  peer.frames.length = 0;
  peer.frameCycles.length = 0;
  peer.head = 0;
  peer.queuedBytes = 0;
}

function destroyAndWait(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.destroy();
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isValidNodeId(value: unknown): value is NodeId {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function isWildcardHost(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** `host:port`, with IPv6 hosts in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses `host:port` or `[v6]:port`; throws TypeError on anything else. */
export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  let host = colon > 0 ? address.slice(0, colon) : '';
  const portText = colon > 0 ? address.slice(colon + 1) : '';
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = Number(portText);
  if (host === '' || !/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new TypeError(`invalid address ${JSON.stringify(address)}: expected host:port`);
  }
  return { host, port };
}

function isValidAddress(address: string): boolean {
  try {
    parseAddress(address);
    return true;
  } catch {
    return false;
  }
}

function isTlsFailure(err: Error & { code?: string }): boolean {
  const code = err.code ?? '';
  return (
    code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /certificate|ssl|tls|alert/i.test(err.message)
  );
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
