/**
 * A TCP fault proxy between the nodes of a chaos cluster. Each listener stands for one directed pair
 * (`from` dials `to` through it), so the proxy knows which node sent every byte; the faults are set per
 * direction of a pair of nodes in one shared `Network`:
 *
 * - blocked (`drop`, `cut-one`): bytes from a to b are held back, as a black-holing router makes TCP
 *   retransmit in vain; they arrive after the link heals if neither end gave up on the connection
 *   meanwhile (TCP's own behaviour after a short outage). New connections open but carry nothing.
 * - rejected (`cut-both`): existing connections between a and b are reset and new ones are reset at
 *   once (a REJECT with tcp-reset).
 * - delayed: every chunk from a to b is delivered `ms` later (order kept).
 *
 * Node 0 stands for the harness's clients.
 */
import { createServer, type Server, Socket } from 'node:net';

/** `a>b`: the direction of bytes sent by a to b. */
const dir = (from: number, to: number) => `${from}>${to}`;

/** The faults currently applied, per direction. */
export class Network {
  private readonly blocked = new Set<string>();
  private readonly rejected = new Set<string>();
  private readonly delays = new Map<string, number>();
  private readonly listeners = new Set<() => void>();

  isBlocked(from: number, to: number): boolean {
    return this.blocked.has(dir(from, to));
  }
  isRejected(from: number, to: number): boolean {
    return this.rejected.has(dir(from, to)) || this.rejected.has(dir(to, from));
  }
  delayOf(from: number, to: number): number {
    return this.delays.get(dir(from, to)) ?? 0;
  }

  block(from: number, to: number): void {
    this.blocked.add(dir(from, to));
    this.changed();
  }
  reject(a: number, b: number): void {
    this.rejected.add(dir(a, b));
    this.changed();
  }
  delay(from: number, to: number, ms: number): void {
    this.delays.set(dir(from, to), ms);
    this.changed();
  }
  /** Removes every fault. */
  heal(): void {
    this.blocked.clear();
    this.rejected.clear();
    this.delays.clear();
    this.changed();
  }
  /** A description of the faults in force, for logs. */
  describe(): string {
    const parts = [
      ...[...this.blocked].map((d) => `blocked ${d}`),
      ...[...this.rejected].map((d) => `rejected ${d}`),
      ...[...this.delays].map(([d, ms]) => `delay ${d} ${ms}ms`),
    ];
    return parts.length === 0 ? 'healthy' : parts.join(', ');
  }
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  private changed(): void {
    for (const l of [...this.listeners]) l();
  }
}

/** One direction of one proxied connection: chunks waiting to be written, in order. */
class Pipe {
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  /** When the last scheduled chunk is due (delays keep order). */
  private lastDue = 0;
  private timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly network: Network,
    private readonly from: number,
    private readonly to: number,
    private readonly out: Socket,
    private readonly onOverflow: () => void,
    private readonly maxHeldBytes: number,
  ) {}

  push(chunk: Buffer): void {
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > this.maxHeldBytes) this.onOverflow();
    else this.pump();
  }

  /** Sends what may be sent now (nothing while the direction is blocked). */
  pump(): void {
    if (this.network.isBlocked(this.from, this.to)) return;
    const delay = this.network.delayOf(this.from, this.to);
    while (this.queue.length > 0) {
      const chunk = this.queue.shift()!;
      this.queuedBytes -= chunk.length;
      if (delay <= 0 && this.timers.size === 0) {
        this.out.write(chunk);
        continue;
      }
      const due = Math.max(Date.now() + delay, this.lastDue);
      this.lastDue = due;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!this.out.destroyed) this.out.write(chunk);
      }, due - Date.now());
      this.timers.add(timer);
    }
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
  }
}

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly pipes: readonly Pipe[];
}

export interface LinkProxyOptions {
  readonly from: number;
  readonly to: number;
  /** Where node `to` really listens. */
  readonly target: { readonly host: string; readonly port: number };
  readonly network: Network;
  /** A connection holding more than this while blocked is reset. Default 64 MiB. */
  readonly maxHeldBytes?: number;
}

/** The listener of one directed pair: node `from` connects here to reach node `to`. */
export class LinkProxy {
  private server: Server | undefined;
  private readonly links = new Set<Link>();
  private readonly offChange: () => void;
  connections = 0;

  constructor(private readonly opts: LinkProxyOptions) {
    this.offChange = opts.network.onChange(() => this.apply());
  }

  get from(): number {
    return this.opts.from;
  }
  get to(): number {
    return this.opts.to;
  }

  /** Listens on 127.0.0.1:`port` (0: any free port); resolves with the port. */
  async listen(port = 0): Promise<number> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as { port: number }).port;
  }

  private accept(client: Socket): void {
    const { from, to, network } = this.opts;
    client.on('error', () => {});
    if (network.isRejected(from, to)) {
      client.resetAndDestroy();
      return;
    }
    this.connections++;
    const upstream = new Socket();
    upstream.setNoDelay(true);
    upstream.on('error', () => {});
    const max = this.opts.maxHeldBytes ?? 64 * 1024 * 1024;
    const reset = () => this.reset(link);
    const forward = new Pipe(network, from, to, upstream, reset, max);
    const backward = new Pipe(network, to, from, client, reset, max);
    const link: Link = { client, upstream, pipes: [forward, backward] };
    this.links.add(link);
    // Bytes from the client are queued until the upstream connection is open.
    client.pause();
    upstream.connect(this.opts.target.port, this.opts.target.host, () => client.resume());
    client.on('data', (c: Buffer) => forward.push(c));
    upstream.on('data', (c: Buffer) => backward.push(c));
    const end = () => this.reset(link);
    client.on('close', end);
    upstream.on('close', end);
  }

  private reset(link: Link): void {
    if (!this.links.delete(link)) return;
    for (const p of link.pipes) p.close();
    if (!link.client.destroyed) link.client.resetAndDestroy();
    if (!link.upstream.destroyed) link.upstream.resetAndDestroy();
  }

  /** Applies a change of the network: resets rejected links, releases held bytes. */
  private apply(): void {
    const { from, to, network } = this.opts;
    for (const link of [...this.links]) {
      if (network.isRejected(from, to)) this.reset(link);
      else for (const p of link.pipes) p.pump();
    }
  }

  /** Connections open now. */
  get open(): number {
    return this.links.size;
  }

  async close(): Promise<void> {
    this.offChange();
    for (const link of [...this.links]) this.reset(link);
    const server = this.server;
    if (server === undefined) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
