/**
 * SCRAM-SHA-256 (RFC 5802/7677 arithmetic, carried in kbroker's own two requests instead of SASL
 * messages): the password never travels, the server stores only a salted hash, and each side proves
 * it knows the secret of the other.
 *
 *   client -> saslStart  { user, clientNonce }
 *   server -> { salt, iterations, nonce }            nonce = clientNonce + serverNonce
 *   client -> saslFinish { nonce, proof }           proof = ClientKey XOR HMAC(StoredKey, authMessage)
 *   server -> { serverSignature }                   HMAC(ServerKey, authMessage), checked by the client
 *
 * A stored credential is `scram-sha-256:<iterations>:<salt>:<storedKey>:<serverKey>` (base64 fields).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
export const DEFAULT_SCRAM_ITERATIONS = 4096;
const PREFIX = 'scram-sha-256';

/** What the server keeps of a password. */
export interface ScramCredential {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
}

/** Derives the stored form of `password` (a fresh random salt unless one is given). */
export function scramCredential(
  password: string,
  iterations = DEFAULT_SCRAM_ITERATIONS,
  salt: Buffer = randomBytes(16),
): ScramCredential {
  const salted = saltedPassword(password, salt, iterations);
  return {
    iterations,
    salt,
    storedKey: sha256(hmac(salted, 'Client Key')),
    serverKey: hmac(salted, 'Server Key'),
  };
}

export function formatScramCredential(c: ScramCredential): string {
  return [
    PREFIX,
    c.iterations,
    c.salt.toString('base64'),
    c.storedKey.toString('base64'),
    c.serverKey.toString('base64'),
  ].join(':');
}

/** Parses a stored credential; throws a TypeError naming what is wrong. */
export function parseScramCredential(text: string): ScramCredential {
  const parts = text.split(':');
  const [prefix, iter, salt, stored, server] = parts;
  const iterations = Number(iter);
  if (parts.length !== 5 || prefix !== PREFIX || !Number.isSafeInteger(iterations) || iterations < 1024) {
    throw new TypeError(`a credential must be ${PREFIX}:<iterations >= 1024>:<salt>:<storedKey>:<serverKey>`);
  }
  const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64');
  const c = { iterations, salt: b64(salt), storedKey: b64(stored), serverKey: b64(server) };
  if (c.salt.length < 8 || c.storedKey.length !== 32 || c.serverKey.length !== 32) {
    throw new TypeError('a credential holds a salt of at least 8 bytes and two 32-byte keys (base64)');
  }
  return c;
}

export function newNonce(): string {
  return randomBytes(18).toString('base64');
}

function authMessage(
  user: string,
  clientNonce: string,
  salt: Buffer,
  iterations: number,
  nonce: string,
): string {
  return `n=${user},r=${clientNonce},r=${nonce},s=${salt.toString('base64')},i=${iterations}`;
}

/** The client's side, once the server's challenge arrived. */
export function scramClientProof(
  user: string,
  password: string,
  clientNonce: string,
  challenge: { salt: string; iterations: number; nonce: string },
): { proof: string; expectedServerSignature: Buffer } {
  const salt = Buffer.from(challenge.salt, 'base64');
  const salted = saltedPassword(password, salt, challenge.iterations);
  const clientKey = hmac(salted, 'Client Key');
  const message = authMessage(user, clientNonce, salt, challenge.iterations, challenge.nonce);
  const signature = hmac(sha256(clientKey), message);
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
  return {
    proof: proof.toString('base64'),
    expectedServerSignature: hmac(hmac(salted, 'Server Key'), message),
  };
}

/**
 * The server's check of a proof: the client key recovered from it must hash to the stored key.
 * Returns the server signature to send back, or undefined when the proof is wrong.
 */
export function scramVerify(
  credential: ScramCredential,
  user: string,
  clientNonce: string,
  nonce: string,
  proofBase64: string,
): Buffer | undefined {
  const proof = Buffer.from(proofBase64, 'base64');
  if (proof.length !== 32) return undefined;
  const message = authMessage(user, clientNonce, credential.salt, credential.iterations, nonce);
  const signature = hmac(credential.storedKey, message);
  const clientKey = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ signature[i]!;
  if (!timingSafeEqual(sha256(clientKey), credential.storedKey)) return undefined;
  return hmac(credential.serverKey, message);
}
