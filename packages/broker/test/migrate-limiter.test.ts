import { describe, expect, it } from 'vitest';
import { Limiter } from '../src/migrate/limiter.js';

describe('Limiter', () => {
  it('runs at most `limit` at once, in arrival order, across a long queue', async () => {
    const limiter = new Limiter(3);
    let active = 0;
    let peak = 0;
    const started: number[] = [];
    const all = Array.from({ length: 20_000 }, (_, i) =>
      limiter.run(async () => {
        started.push(i);
        active++;
        peak = Math.max(peak, active);
        await Promise.resolve();
        active--;
        return i;
      }),
    );
    expect(await Promise.all(all)).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
    expect(peak).toBe(3);
    expect(started).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
  });

  it('frees its slot when a task fails', async () => {
    const limiter = new Limiter(1);
    await expect(limiter.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run(async () => 'next')).toBe('next');
  });
});
