import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkNewTopicName,
  collisionError,
  findCollidingTopic,
  hasCollisionChars,
  isValidTopicName,
  MAX_TOPIC_NAME_LENGTH,
  topicNameProblem,
  topicNames,
  topicNamesCollide,
  unifyCollisionChars,
  validateTopicName,
} from '../src/controller/topic-names.js';
import { refusal } from './helpers/refusal.js';

describe('topic names', () => {
  it('accepts ASCII alphanumerics, dot, underscore and dash, up to 249 characters', () => {
    for (const name of [
      'a',
      'orders',
      'Orders.v2',
      'my_topic-1',
      '...',
      '_',
      '-',
      'a'.repeat(249),
      '__consumer_offsets',
    ]) {
      expect(isValidTopicName(name), name).toBe(true);
      expect(() => validateTopicName(name)).not.toThrow();
    }
  });

  it('refuses the empty name, "." and "..", overlong names and other characters', () => {
    const cases: [string, RegExp][] = [
      ['', /can't be empty/],
      ['.', /cannot be "\." or "\.\."/],
      ['..', /cannot be "\." or "\.\."/],
      ['a'.repeat(MAX_TOPIC_NAME_LENGTH + 1), /can't be longer than 249 characters/],
      ['has space', /contains a character other than ASCII alphanumerics/],
      ['slash/topic', /character other than/],
      ['ünïcode', /character other than/],
      ['tab\t', /character other than/],
      ['colon:', /character other than/],
    ];
    for (const [name, message] of cases) {
      const e = refusal(() => validateTopicName(name));
      expect(e.code).toBe('INVALID_TOPIC_EXCEPTION');
      expect(e.errorCode).toBe(17);
      expect(e.message).toMatch(message);
      expect(topicNameProblem(name)).toBe(e.message);
    }
  });

  it('agrees with the character rule on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const legal =
          s.length >= 1 && s.length <= 249 && s !== '.' && s !== '..' && /^[a-zA-Z0-9._-]+$/.test(s);
        expect(isValidTopicName(s)).toBe(legal);
      }),
    );
  });

  it('detects dot/underscore collisions', () => {
    expect(hasCollisionChars('a.b')).toBe(true);
    expect(hasCollisionChars('a_b')).toBe(true);
    expect(hasCollisionChars('ab-c')).toBe(false);
    expect(unifyCollisionChars('a.b.c_d')).toBe('a_b_c_d');
    expect(topicNamesCollide('a.b', 'a_b')).toBe(true);
    expect(topicNamesCollide('a.b', 'a.b')).toBe(false);
    expect(topicNamesCollide('a.b', 'a-b')).toBe(false);
  });

  it('finds the existing topic a new name collides with, ignoring the same name', () => {
    const existing = ['metrics_cpu', 'orders', 'a.b'];
    expect(findCollidingTopic('metrics.cpu', existing)).toBe('metrics_cpu');
    expect(findCollidingTopic('a_b', existing)).toBe('a.b');
    expect(findCollidingTopic('a.b', existing)).toBeUndefined();
    expect(findCollidingTopic('orders', existing)).toBeUndefined();
    expect(findCollidingTopic('other.x', existing)).toBeUndefined();
  });

  it('checkNewTopicName reports a collision without refusing, and refuses illegal names', () => {
    expect(checkNewTopicName('metrics.cpu', ['metrics_cpu'])).toEqual({ collidesWith: 'metrics_cpu' });
    expect(checkNewTopicName('fresh', ['metrics_cpu'])).toEqual({ collidesWith: undefined });
    expect(refusal(() => checkNewTopicName('bad name', [])).code).toBe('INVALID_TOPIC_EXCEPTION');
    const e = collisionError('metrics.cpu', 'metrics_cpu');
    expect(e.code).toBe('INVALID_TOPIC_EXCEPTION');
    expect(e.message).toBe("Topic 'metrics.cpu' collides with existing topic: metrics_cpu");
  });

  it('lists the names of an image', () => {
    const topics = { topics: () => [{ name: 'x' }, { name: 'y_z' }][Symbol.iterator]() };
    expect([...topicNames(topics)]).toEqual(['x', 'y_z']);
    expect(checkNewTopicName('y.z', topicNames(topics)).collidesWith).toBe('y_z');
  });

  it('finds the same collision by looking up spellings as by scanning every name', () => {
    const asSet = (names: readonly string[]) => {
      const set = new Set(names);
      return { has: (n: string) => set.has(n), names: () => names };
    };
    // Existing topics never collide with one another (the controller refuses that), so each unified
    // form has at most one name.
    const existing = ['metrics_cpu', 'a.b', 'x.y_z', 'p', '_', '.a_'];
    for (const name of ['metrics.cpu', 'a_b', 'a.b', 'x_y.z', 'x_y_z', 'p', '.', '_a.', 'q.r'])
      expect(findCollidingTopic(name, asSet(existing))).toBe(findCollidingTopic(name, existing));
    // More than 12 dots and underscores: every name is compared instead.
    const many = `${'_'.repeat(13)}x`;
    expect(findCollidingTopic(many, asSet([`${'.'.repeat(13)}x`]))).toBe(`${'.'.repeat(13)}x`);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[ab._]{1,6}$/), { maxLength: 12, selector: unifyCollisionChars }),
        fc.stringMatching(/^[ab._]{1,6}$/),
        (names, name) => findCollidingTopic(name, asSet(names)) === findCollidingTopic(name, names),
      ),
    );
  });
});
