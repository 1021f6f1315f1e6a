/**
 * The server side of SCRAM-SHA-256 on the client listener (`saslStart`, `saslFinish`). A successful
 * exchange makes the connection's session that user's, with the user's permission.
 */
import type { ApiRequest, ApiResponse } from '@kbroker/client/protocol';
import { newNonce, SCRAM_MECHANISM, scramCredential, scramVerify } from '@kbroker/client/scram';
import type { Logger } from 'pino';
import { NodeError } from './errors.js';
import type { Session } from './rpc-server.js';
import type { User } from './security.js';

interface Pending {
  readonly user: string;
  readonly clientNonce: string;
  readonly nonce: string;
}

/** Stands in for unknown users, so a challenge does not tell which users exist. */
const DECOY = scramCredential(newNonce(), 4096);

export function saslHandlers(users: ReadonlyMap<string, User> | undefined, log: Logger) {
  const pending = new WeakMap<Session, Pending>();
  const refuse = (session: Session, user: string, reason: string): never => {
    log.warn({ remote: session.remote, user, reason }, 'client authentication failed');
    throw new NodeError('SASL_AUTHENTICATION_FAILED', `authentication of ${user} failed`);
  };
  return {
    saslStart: (body: ApiRequest<'saslStart'>, session: Session): ApiResponse<'saslStart'> => {
      const user = typeof body.user === 'string' ? body.user.slice(0, 64) : '';
      if (users === undefined) refuse(session, user, 'this node has no users configured');
      if (body.mechanism !== SCRAM_MECHANISM)
        refuse(session, user, `unsupported mechanism ${String(body.mechanism)}`);
      if (
        typeof body.clientNonce !== 'string' ||
        body.clientNonce.length < 8 ||
        body.clientNonce.length > 128
      )
        refuse(session, user, 'a client nonce of 8 to 128 characters is required');
      const credential = users?.get(user)?.scram ?? DECOY;
      const nonce = body.clientNonce + newNonce();
      pending.set(session, { user, clientNonce: body.clientNonce, nonce });
      return { salt: credential.salt.toString('base64'), iterations: credential.iterations, nonce };
    },
    saslFinish: (body: ApiRequest<'saslFinish'>, session: Session): ApiResponse<'saslFinish'> => {
      const p = pending.get(session);
      pending.delete(session);
      if (p === undefined) refuse(session, '', 'saslFinish without saslStart');
      const { user, clientNonce, nonce } = p as Pending;
      const known = users?.get(user);
      if (body.nonce !== nonce || typeof body.proof !== 'string') refuse(session, user, 'nonce mismatch');
      const signature =
        known?.scram === undefined
          ? undefined
          : scramVerify(known.scram, user, clientNonce, nonce, body.proof);
      if (signature === undefined || known === undefined)
        return refuse(session, user, known === undefined ? 'unknown user' : 'wrong password');
      session.principal = user;
      session.permission = known.permission;
      log.info({ remote: session.remote, user, permission: known.permission }, 'client authenticated');
      return { serverSignature: signature.toString('base64'), principal: user };
    },
  };
}
