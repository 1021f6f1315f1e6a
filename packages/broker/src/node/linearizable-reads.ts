/**
 * Linearizable reads (`linearizable: true` on any read API). A local image may be stale: a follower
 * lags, and a deposed leader cut off from the quorum keeps serving what it had (the stale reads Jepsen
 * found in etcd 0.4 and ZooKeeper's sync+read). So the Raft leader first confirms with a quorum that it
 * still leads and has applied everything committed when the read arrived (Raft thesis §6.4, read-index),
 * then reads its image; any other node forwards the read to the leader.
 */
import type { ApiName, ApiRequest, ApiResponse } from '@kbroker/client/protocol';
import { READ_APIS } from '@kbroker/client/protocol';
import type { RaftNode } from '@kbroker/raft';
import { NodeError } from './errors.js';
import type { Handler, Handlers } from './rpc-server.js';

export interface LinearizableReadContext {
  readonly raft: RaftNode;
  /** The metadata offset the local image has applied. */
  readonly appliedOffset: () => number;
  /** Sends the request to the Raft leader's client listener (throws a retriable error when unknown). */
  readonly forward: <A extends ApiName>(
    api: A,
    body: ApiRequest<A>,
    timeoutMs: number,
  ) => Promise<ApiResponse<A>>;
}

/** Wraps every read handler of `handlers` so that a `linearizable` request is served as described above. */
export function withLinearizableReads(handlers: Handlers, ctx: LinearizableReadContext): Handlers {
  const out: Handlers = { ...handlers };
  for (const api of READ_APIS as ReadonlySet<ApiName>) {
    const local = handlers[api] as Handler<ApiName> | undefined;
    if (local === undefined) continue;
    const wrapped: Handler<ApiName> = async (body, session, deadline) => {
      if ((body as { linearizable?: unknown } | undefined)?.linearizable !== true) {
        return local(body, session, deadline);
      }
      if (ctx.raft.status().role !== 'leader') return ctx.forward(api, body, deadline.timeoutMs);
      const index = await ctx.raft.readIndex(deadline.timeoutMs);
      // readIndex resolves once the state machine applied `index`; the image is updated synchronously.
      if (ctx.appliedOffset() < index) {
        throw new NodeError('REQUEST_TIMED_OUT', `read index ${index} is not applied yet; retry`, true);
      }
      return local(body, session, deadline);
    };
    (out as Record<string, Handler<ApiName>>)[api] = wrapped;
  }
  return out;
}
