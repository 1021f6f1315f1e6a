import { expect } from 'vitest';
import { ControllerError } from '../../src/controller/errors.js';

/** Runs `fn`, which must throw a ControllerError, and returns that error for further checks. */
export function refusal(fn: () => unknown): ControllerError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ControllerError);
    return err as ControllerError;
  }
  throw new Error('expected a refusal');
}
