// node-zookeeper-client ships no types: this is the slice of its API the tests use.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface NzkEvent {
  getType(): number;
  getName(): string;
  getPath(): string;
}

export interface NzkException extends Error {
  getCode(): number;
  getName(): string;
}

/** Stat as the library decodes it: longs stay 8-byte Buffers. */
export interface NzkStat {
  czxid: Buffer;
  mzxid: Buffer;
  ctime: Buffer;
  mtime: Buffer;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: Buffer;
  dataLength: number;
  numChildren: number;
  pzxid: Buffer;
}

type Watcher = (event: NzkEvent) => void;

interface RawNzkClient {
  connect(): void;
  close(): void;
  once(event: string, listener: (...args: unknown[]) => void): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
  getSessionId(): Buffer;
  getSessionPassword(): Buffer;
  getSessionTimeout(): number;
  addAuthInfo(scheme: string, auth: Buffer): void;
  getData(
    path: string,
    watcher: Watcher | undefined,
    cb: (e: NzkException | null, d: Buffer, s: NzkStat) => void,
  ): void;
  getChildren(
    path: string,
    watcher: Watcher | undefined,
    cb: (e: NzkException | null, c: string[], s: NzkStat) => void,
  ): void;
  exists(
    path: string,
    watcher: Watcher | undefined,
    cb: (e: NzkException | null, s: NzkStat | null) => void,
  ): void;
  create(path: string, data: Buffer | null, cb: (e: NzkException | null, p: string) => void): void;
  setData(
    path: string,
    data: Buffer | null,
    version: number,
    cb: (e: NzkException | null, s: NzkStat) => void,
  ): void;
  remove(path: string, version: number, cb: (e: NzkException | null) => void): void;
  getACL(
    path: string,
    cb: (
      e: NzkException | null,
      acls: { permission: number; id: { scheme: string; id: string } }[],
      s: NzkStat,
    ) => void,
  ): void;
  transaction(): {
    create(path: string, data?: Buffer): unknown;
    setData(path: string, data: Buffer, version?: number): unknown;
    check(path: string, version: number): unknown;
    remove(path: string, version?: number): unknown;
    commit(
      cb: (e: NzkException | null, results: { type: number; err?: number; path?: string }[]) => void,
    ): void;
  };
}

interface NzkModule {
  createClient(
    connectionString: string,
    options?: { sessionTimeout?: number; spinDelay?: number; retries?: number },
  ): RawNzkClient;
  Exception: Record<string, number>;
}

export const nzk = require('node-zookeeper-client') as NzkModule;

export function long(b: Buffer): bigint {
  return b.readBigInt64BE(0);
}

/** A promise-returning wrapper around a node-zookeeper-client client. */
export class ZkClient {
  readonly events: string[] = [];

  private constructor(readonly raw: RawNzkClient) {
    for (const e of ['connected', 'disconnected', 'expired', 'authenticationFailed']) {
      raw.on(e, () => this.events.push(e));
    }
  }

  static async connect(
    connectionString: string,
    options: { sessionTimeout?: number; spinDelay?: number; retries?: number } = {},
  ): Promise<ZkClient> {
    const raw = nzk.createClient(connectionString, {
      sessionTimeout: 10_000,
      spinDelay: 50,
      retries: 0,
      ...options,
    });
    const c = new ZkClient(raw);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`could not connect to ${connectionString}`)), 10_000);
      raw.once('connected', () => {
        clearTimeout(t);
        resolve();
      });
      raw.connect();
    });
    return c;
  }

  /** Resolves on the next occurrence of a client event ('connected', 'disconnected', 'expired'). */
  next(event: string, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
      this.raw.once(event, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  getData(path: string, watcher?: Watcher): Promise<{ data: Buffer | undefined; stat: NzkStat }> {
    return new Promise((resolve, reject) =>
      this.raw.getData(path, watcher, (e, data, stat) => (e ? reject(e) : resolve({ data, stat }))),
    );
  }

  getChildren(path: string, watcher?: Watcher): Promise<{ children: string[]; stat: NzkStat }> {
    return new Promise((resolve, reject) =>
      this.raw.getChildren(path, watcher, (e, children, stat) =>
        e ? reject(e) : resolve({ children, stat }),
      ),
    );
  }

  exists(path: string, watcher?: Watcher): Promise<NzkStat | null> {
    return new Promise((resolve, reject) =>
      this.raw.exists(path, watcher, (e, s) => (e ? reject(e) : resolve(s))),
    );
  }

  create(path: string, data: Buffer | null = null): Promise<string> {
    return new Promise((resolve, reject) =>
      this.raw.create(path, data, (e, p) => (e ? reject(e) : resolve(p))),
    );
  }

  setData(path: string, data: Buffer, version = -1): Promise<NzkStat> {
    return new Promise((resolve, reject) =>
      this.raw.setData(path, data, version, (e, s) => (e ? reject(e) : resolve(s))),
    );
  }

  getACL(path: string): Promise<{ permission: number; id: { scheme: string; id: string } }[]> {
    return new Promise((resolve, reject) =>
      this.raw.getACL(path, (e, acls) => (e ? reject(e) : resolve(acls))),
    );
  }

  close(): void {
    this.raw.close();
  }
}

/** A watcher that records its one event and resolves when it fires. */
export function watchOnce(): { watcher: Watcher; fired: Promise<NzkEvent> } {
  let fire!: (e: NzkEvent) => void;
  const fired = new Promise<NzkEvent>((resolve) => {
    fire = resolve;
  });
  return { watcher: (e) => fire(e), fired };
}

/** Rejects if `p` does not settle in time. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);
}
