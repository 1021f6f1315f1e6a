import { randomBytes } from 'node:crypto';
import type { ApiName, ApiRequest, ApiResponse } from '@kbroker/client/protocol';
import type { MetadataImage, MetadataStateMachine } from '@kbroker/metadata-log';
import type { Logger } from 'pino';

/** ISR changes per alterPartitions request (the controller takes up to 10,000). */
const ISR_CHANGES_PER_REQUEST = 5000;

/** Calls a controller API wherever the active controller is (locally or forwarded). */
export type ControllerCall = <A extends ApiName>(api: A, body: ApiRequest<A>) => Promise<ApiResponse<A>>;

export interface BrokerOptions {
  readonly brokerId: number;
  readonly clusterId: string;
  readonly endpoint: { host: string; port: number };
  readonly rack: string | null;
  readonly heartbeatIntervalMs: number;
  /** How long a controlled shutdown may take before the broker gives up and stops anyway. */
  readonly shutdownTimeoutMs: number;
  /** Without a successful heartbeat for this long, the broker considers itself fenced. */
  readonly sessionTimeoutMs: number;
  readonly sm: MetadataStateMachine;
  readonly call: ControllerCall;
  readonly logger: Logger;
}

export type BrokerState = 'starting' | 'registering' | 'fenced' | 'unfenced' | 'shutting-down' | 'stopped';

/**
 * The broker side of KRaft's liveness protocol: register with the active controller (a new incarnation
 * per process start), heartbeat with the metadata offset this node has applied, become unfenced once
 * caught up, re-register when the controller no longer knows our epoch, and on stop go through
 * controlled shutdown. As partition leader it asks for replicas that came back to rejoin the ISR (a
 * kbroker broker keeps no partition data to catch up, so a live replica is in sync at once), which lets
 * preferred leaders return.
 */
export class BrokerLifecycle {
  state: BrokerState = 'starting';
  epoch = -1;
  private readonly incarnationId = randomBytes(16).toString('base64url');
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<void> | undefined;
  private readonly log: Logger;
  private stopping = false;
  private readonly unsubscribe: () => void;
  private lastHeartbeatMs = 0;

  constructor(private readonly opts: BrokerOptions) {
    this.log = opts.logger.child({ component: 'broker' });
    this.unsubscribe = opts.sm.onChange((changes) => {
      // Waiting for a controller (NOT_CONTROLLER): an activated controller announces itself in the
      // log, so retry on each change rather than on the next 250 ms retry.
      if (this.state === 'registering') {
        this.scheduleSoon();
      } else if (
        this.state === 'unfenced' &&
        changes.some((c) => c.kind === 'broker-unfenced' || c.kind === 'partition-changed')
      ) {
        this.scheduleSoon();
      }
    });
  }

  /**
   * Fenced as far as this broker can tell: not unfenced by the controller, or unable to reach it for a
   * whole session timeout (the controller will have fenced it by then, so serving would be stale).
   */
  get fenced(): boolean {
    return this.state !== 'unfenced' || Date.now() - this.lastHeartbeatMs > this.opts.sessionTimeoutMs;
  }

  start(): void {
    this.running = true;
    this.state = 'registering';
    this.scheduleSoon();
  }

  /** Controlled shutdown: leaderships move away, then the controller lets us go (or we time out). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
    if (this.state === 'unfenced' || this.state === 'fenced') {
      this.state = 'shutting-down';
      const deadline = Date.now() + this.opts.shutdownTimeoutMs;
      while (Date.now() < deadline) {
        try {
          const r = await this.heartbeat(true);
          if (r.shouldShutDown) {
            this.log.info('controlled shutdown complete');
            break;
          }
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'controlled shutdown heartbeat failed');
        }
        await new Promise((r) => setTimeout(r, Math.min(200, this.opts.heartbeatIntervalMs)));
      }
    }
    this.running = false;
    this.state = 'stopped';
    this.unsubscribe();
  }

  /** Stops without telling anyone (kill -9 of the broker side). */
  abort(): void {
    this.running = false;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.state = 'stopped';
    this.unsubscribe();
  }

  private scheduleSoon(): void {
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.running || this.stopping) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.inFlight) {
        this.schedule(50);
        return;
      }
      this.inFlight = this.cycle().finally(() => {
        this.inFlight = undefined;
      });
    }, delayMs);
  }

  private async cycle(): Promise<void> {
    try {
      if (this.state === 'registering') {
        const r = await this.opts.call('registerBroker', {
          brokerId: this.opts.brokerId,
          incarnationId: this.incarnationId,
          clusterId: this.opts.clusterId,
          endpoints: [
            {
              name: 'CLIENT',
              host: this.opts.endpoint.host,
              port: this.opts.endpoint.port,
              securityProtocol: 'PLAINTEXT',
            },
          ],
          rack: this.opts.rack,
        });
        this.epoch = r.brokerEpoch;
        this.state = 'fenced';
        this.log.info({ brokerEpoch: this.epoch }, 'registered with the controller');
      }
      const hb = await this.heartbeat(false);
      this.lastHeartbeatMs = Date.now();
      const next: BrokerState = hb.isFenced ? 'fenced' : 'unfenced';
      if (next !== this.state) {
        this.log.info(
          { brokerEpoch: this.epoch, offset: this.opts.sm.image.provenance.offset },
          next === 'unfenced' ? 'unfenced' : 'fenced',
        );
        this.state = next;
      }
      if (this.state === 'unfenced')
        // A refused or lost request is retried by the next pass (the next heartbeat): it must not be
        // taken for a failed heartbeat.
        await this.expandIsrs().catch((err: Error & { code?: string }) =>
          this.log.debug({ err: err.message, code: err.code }, 'ISR expansion failed; retried next pass'),
        );
      this.schedule(
        this.state === 'fenced'
          ? Math.min(200, this.opts.heartbeatIntervalMs)
          : this.opts.heartbeatIntervalMs,
      );
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'STALE_BROKER_EPOCH' || code === 'BROKER_ID_NOT_REGISTERED') {
        this.log.warn({ code }, 'the controller does not know this broker epoch; registering again');
        this.state = 'registering';
      } else if (code !== 'NOT_CONTROLLER' && code !== 'DUPLICATE_BROKER_REGISTRATION') {
        this.log.warn({ err: (err as Error).message, code }, 'broker heartbeat failed');
      }
      this.schedule(Math.min(250, this.opts.heartbeatIntervalMs));
    }
  }

  private heartbeat(wantShutDown: boolean) {
    return this.opts.call('brokerHeartbeat', {
      brokerId: this.opts.brokerId,
      brokerEpoch: this.epoch,
      currentMetadataOffset: this.opts.sm.image.provenance.offset,
      wantFence: false,
      wantShutDown,
    });
  }

  /**
   * As leader, asks to add live replicas missing from the ISR (the partition leader owns its ISR), many
   * partitions per request: after a broker's restart its leaders re-add it to hundreds of thousands of
   * ISRs in a large cluster, which one request (and one Raft entry) per partition made take minutes.
   */
  private async expandIsrs(): Promise<void> {
    const image: MetadataImage = this.opts.sm.image;
    const me = this.opts.brokerId;
    type Change = {
      topicId: string;
      partitionId: number;
      leaderEpoch: number;
      partitionEpoch: number;
      newIsr: { brokerId: number; brokerEpoch: number }[];
    };
    let changes: Change[] = [];
    const send = async () => {
      const partitions = changes;
      changes = [];
      const res = await this.opts.call('alterPartitions', {
        brokerId: me,
        brokerEpoch: this.epoch,
        partitions,
      });
      for (const r of res.partitions) {
        // Stale epochs (our image lags the controller) resolve themselves on the next pass.
        if (r.error !== null)
          this.log.debug(
            { error: r.error, topicId: r.topicId, partition: r.partitionId },
            'ISR expansion refused',
          );
      }
    };
    for (const topic of image.topics.topics()) {
      for (let p = 0; p < topic.partitions.length; p++) {
        const part = topic.partitions[p]!;
        if (part.leader !== me || part.isr.length === part.replicas.length) continue;
        const live = part.replicas.filter((r) => {
          const b = image.cluster.broker(r);
          return b !== undefined && !b.fenced && !b.inControlledShutdown;
        });
        const isr = [...part.isr, ...live.filter((r) => !part.isr.includes(r))];
        if (isr.length === part.isr.length) continue;
        changes.push({
          topicId: topic.id,
          partitionId: p,
          leaderEpoch: part.leaderEpoch,
          partitionEpoch: part.partitionEpoch,
          newIsr: isr.map((id) => ({ brokerId: id, brokerEpoch: image.cluster.broker(id)?.epoch ?? -1 })),
        });
        if (changes.length >= ISR_CHANGES_PER_REQUEST) await send();
      }
    }
    if (changes.length > 0) await send();
  }
}
