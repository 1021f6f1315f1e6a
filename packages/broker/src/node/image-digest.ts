import { createHash } from 'node:crypto';
import type { MetadataImage } from '@kbroker/metadata-log';

/** A canonical JSON text of a value: object keys sorted, Maps and Sets as arrays, bigints as strings. */
function canonical(value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Map) return [...value.entries()].map(([k, v]) => [canonical(k), canonical(v)]);
  if (value instanceof Set) return [...value].map(canonical);
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = canonical((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/**
 * SHA-256 of the image's `toComparable()` (every field, provenance included): two nodes that applied
 * the same log prefix have the same digest, so comparing digests at one offset compares the images.
 */
export function imageDigest(image: MetadataImage): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(image.toComparable())))
    .digest('hex');
}
