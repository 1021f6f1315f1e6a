/** Why a jute value could not be read. */
export type JuteErrorKind =
  /** The value runs past the end of the frame. */
  | 'truncated'
  /** A declared length is over the configured maximum (jute.maxbuffer). */
  | 'too-large'
  /** A declared length or count is negative (and not the -1 that means null). */
  | 'negative-length'
  /** A boolean byte other than 0 or 1 (ZooKeeper accepts any non-zero; we only flag it when strict). */
  | 'invalid';

/** A malformed jute encoding, raised before anything is allocated for it. */
export class JuteError extends Error {
  override readonly name = 'JuteError';
  constructor(
    readonly kind: JuteErrorKind,
    message: string,
  ) {
    super(message);
  }
}
