/** The orchestrator's handle on one benchmark node process (raft-bench-node.js) and its IPC channel. */
import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, NodeInit, NodeStatusReply, ParentMessage, Request } from './protocol.js';

const NODE_SCRIPT = fileURLToPath(new URL('./raft-bench-node.js', import.meta.url));

/** Every live node process, so an interrupted run can kill them all. */
export const liveProcesses = new Set<ChildProcess>();

export class NodeProcessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeProcessError';
  }
}

/**
 * Events: 'leader-change', 'probe-commit' (the ChildMessage), 'exit' (code, signal).
 */
export class NodeProcess extends EventEmitter {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited: Promise<void> = Promise.resolve();
  /** The last fatal error the process reported, if any. */
  fatal: string | undefined;

  constructor(
    readonly init: NodeInit,
    private readonly execArgv: readonly string[] = [],
  ) {
    super();
  }

  get id(): number {
    return this.init.nodeId;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Forks the process and resolves once its Raft node started. */
  start(timeoutMs = 30_000): Promise<void> {
    if (this.child !== undefined) throw new NodeProcessError(`node ${this.id} is already running`);
    this.fatal = undefined;
    const child = fork(NODE_SCRIPT, [JSON.stringify(this.init)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [...this.execArgv],
    });
    this.child = child;
    liveProcesses.add(child);
    let onReady: () => void = () => undefined;
    let onEarlyExit: (err: Error) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onEarlyExit = reject;
    });
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        liveProcesses.delete(child);
        if (this.child === child) this.child = undefined;
        const err = new NodeProcessError(
          `node ${this.id} exited (code ${code}, signal ${signal})${this.fatal ? `: ${this.fatal}` : ''}`,
        );
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        onEarlyExit(err);
        this.emit('exit', code, signal);
        resolve();
      });
    });
    child.on('message', (msg: ChildMessage) => {
      switch (msg.kind) {
        case 'ready':
          onReady();
          return;
        case 'res': {
          const p = this.pending.get(msg.id);
          if (p === undefined) return;
          this.pending.delete(msg.id);
          if (msg.ok) p.resolve(msg.result);
          else p.reject(new NodeProcessError(`node ${this.id}: ${msg.error}`));
          return;
        }
        case 'fatal':
          this.fatal = msg.error;
          return;
        default:
          this.emit(msg.kind, msg);
      }
    });
    return withTimeout(ready, timeoutMs, `node ${this.id} to start`);
  }

  request<T>(req: Request, timeoutMs = 10_000): Promise<T> {
    const child = this.child;
    if (child === undefined) return Promise.reject(new NodeProcessError(`node ${this.id} is not running`));
    const id = this.nextId++;
    const reply = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      const msg: ParentMessage = { kind: 'req', id, req };
      child.send(msg, (err) => {
        if (err === null || err === undefined) return;
        this.pending.delete(id);
        reject(err);
      });
    });
    return withTimeout(reply, timeoutMs, `node ${this.id} to answer '${req.op}'`).finally(() =>
      this.pending.delete(id),
    );
  }

  status(timeoutMs?: number): Promise<NodeStatusReply> {
    return this.request<NodeStatusReply>({ op: 'status' }, timeoutMs);
  }

  /** SIGKILL, then wait for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** Asks the node to stop cleanly; kills it if it does not exit within `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.child === undefined) return;
    try {
      await this.request({ op: 'stop' }, timeoutMs);
      await withTimeout(this.exited, timeoutMs, `node ${this.id} to exit`);
    } catch {
      await this.kill();
    }
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new NodeProcessError(`timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
