/**
 * Kafka's topic name rules (`org.apache.kafka.common.internals.Topic`).
 *
 * A name is 1..249 characters of `[a-zA-Z0-9._-]` and not `.` or `..`. The limit is 249 because a
 * partition directory is `<topic>-<partition>` and its future/delete variants must fit in 255 bytes.
 * `.` and `_` are interchangeable in metric names, so two topics equal after replacing `.` with `_`
 * collide; a new name colliding with an existing topic is refused by the caller, as Kafka does.
 */
import { ControllerError } from './errors.js';

export const MAX_TOPIC_NAME_LENGTH = 249;

const LEGAL = /^[a-zA-Z0-9._-]+$/;

/** Kafka's exception message for an illegal name, or undefined when the name is legal. */
export function topicNameProblem(name: string): string | undefined {
  if (name.length === 0) return "Topic name is illegal, it can't be empty";
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    return `Topic name is illegal, it can't be longer than ${MAX_TOPIC_NAME_LENGTH} characters, Topic name: ${name}`;
  }
  if (!LEGAL.test(name)) {
    return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
  }
  return undefined;
}

export function isValidTopicName(name: string): boolean {
  return topicNameProblem(name) === undefined;
}

/** Refuses an illegal name with INVALID_TOPIC_EXCEPTION. */
export function validateTopicName(name: string): void {
  const problem = topicNameProblem(name);
  if (problem !== undefined) throw new ControllerError('INVALID_TOPIC_EXCEPTION', problem);
}

export function hasCollisionChars(name: string): boolean {
  return name.includes('.') || name.includes('_');
}

/** The name with every `.` replaced by `_`: names with equal forms collide. */
export function unifyCollisionChars(name: string): string {
  return name.replaceAll('.', '_');
}

/** True when the names differ but are equal once `.` and `_` are unified. */
export function topicNamesCollide(a: string, b: string): boolean {
  return a !== b && unifyCollisionChars(a) === unifyCollisionChars(b);
}

/** Existing topic names, by lookup (a large image) rather than by list. */
export interface TopicNameSet {
  has(name: string): boolean;
  /** Every name, for a name with too many `.`/`_` to try each spelling. */
  names(): Iterable<string>;
}

/** Up to 2^12 spellings are looked up; a name with more `.`/`_` is compared with every name instead. */
const MAX_SPELLING_BITS = 12;

/**
 * The existing topic a new name collides with, if any. An identical name is not a collision (that is
 * TOPIC_ALREADY_EXISTS). A name without `.` or `_` collides with nothing, since no other name unifies
 * to it. Given a {@link TopicNameSet}, the other spellings of the name (each `.`/`_` either way) are
 * looked up, so the cost does not grow with the number of topics.
 */
export function findCollidingTopic(
  name: string,
  existing: Iterable<string> | TopicNameSet,
): string | undefined {
  if (!hasCollisionChars(name)) return undefined;
  if (isNameSet(existing)) {
    const set = existing;
    const at: number[] = [];
    for (let i = 0; i < name.length; i++) if (name[i] === '.' || name[i] === '_') at.push(i);
    if (at.length <= MAX_SPELLING_BITS) {
      const chars = name.split('');
      for (let bits = 0; bits < 1 << at.length; bits++) {
        for (let j = 0; j < at.length; j++) chars[at[j]!] = bits & (1 << j) ? '_' : '.';
        const other = chars.join('');
        if (other !== name && set.has(other)) return other;
      }
      return undefined;
    }
    return scanForCollision(name, set.names());
  }
  return scanForCollision(name, existing as Iterable<string>);
}

function isNameSet(x: Iterable<string> | TopicNameSet): x is TopicNameSet {
  const s = x as Partial<TopicNameSet>;
  return typeof s.has === 'function' && typeof s.names === 'function';
}

function scanForCollision(name: string, existing: Iterable<string>): string | undefined {
  const unified = unifyCollisionChars(name);
  for (const other of existing) {
    if (other !== name && other.length === name.length && unifyCollisionChars(other) === unified)
      return other;
  }
  return undefined;
}

export interface NewTopicNameCheck {
  /** An existing topic the name collides with: the caller refuses with {@link collisionError}. */
  readonly collidesWith: string | undefined;
}

/**
 * Validates a name for a new topic: throws INVALID_TOPIC_EXCEPTION for an illegal name, and reports
 * (does not refuse) a `.`/`_` collision with an existing topic.
 */
export function checkNewTopicName(
  name: string,
  existing: Iterable<string> | TopicNameSet,
): NewTopicNameCheck {
  validateTopicName(name);
  return { collidesWith: findCollidingTopic(name, existing) };
}

/** Kafka's refusal of a name that collides with an existing topic. */
export function collisionError(name: string, existing: string): ControllerError {
  return new ControllerError(
    'INVALID_TOPIC_EXCEPTION',
    `Topic '${name}' collides with existing topic: ${existing}`,
  );
}

/** The names of every topic in an image, lazily (for {@link checkNewTopicName}). */
export function* topicNames(topics: { topics(): Iterable<{ readonly name: string }> }): Generator<string> {
  for (const t of topics.topics()) yield t.name;
}
