export * from './constants.js';
export { JuteError, type JuteErrorKind } from './errors.js';
export { FrameDecoder } from './frame.js';
export { DEFAULT_MAX_BUFFER, JuteReader } from './reader.js';
export * from './records.js';
export { JuteWriter } from './writer.js';
