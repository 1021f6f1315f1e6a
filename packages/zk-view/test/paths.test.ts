/**
 * ZooKeeper's path rules (PathUtils.validatePath) as the server checks them on every write: the
 * one-pass check against the rules written out plainly, on paths built from the characters and
 * segments that matter.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { invalidPathReason } from '../src/server/paths.js';

/** The rules in the order PathUtils applies them: shape, then segments, then characters. */
function reference(path: string): string | undefined {
  if (path.length === 0) return 'path is empty';
  if (!path.startsWith('/')) return 'path must start with /';
  if (path === '/') return undefined;
  if (path.endsWith('/')) return 'path must not end with /';
  for (const s of path.slice(1).split('/')) {
    if (s === '') return 'empty node name';
    if (s === '.' || s === '..') return `relative path segment ${s}`;
  }
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    const bad = c <= 0x1f || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || c >= 0xfff0;
    if (bad) return `invalid character @${i}`;
  }
  return undefined;
}

const piece = fc.constantFrom(
  '/',
  '.',
  '..',
  'a',
  'topic-1',
  '\u0000',
  '\u001f',
  '\u007f',
  '\u009f',
  '\ud800',
  '\ufff0',
  'é',
  '',
);

describe('invalidPathReason', () => {
  it('agrees with the rules written out, reason included', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        const path = pieces.join('');
        expect(invalidPathReason(path)).toBe(reference(path));
        expect(invalidPathReason(`/${path}`)).toBe(reference(`/${path}`));
      }),
      { numRuns: 5000 },
    );
  });

  it('names the first problem', () => {
    expect(invalidPathReason('/a/../b')).toBe('relative path segment ..');
    expect(invalidPathReason('/a\u0000/./b')).toBe('relative path segment .');
    expect(invalidPathReason('/a\u0000b/c')).toBe('invalid character @2');
    expect(invalidPathReason('/a//b')).toBe('empty node name');
    expect(invalidPathReason('/a/')).toBe('path must not end with /');
    expect(invalidPathReason('/.a/..b/...')).toBeUndefined();
    expect(invalidPathReason('/consumers/g/offsets/t/0')).toBeUndefined();
  });
});
