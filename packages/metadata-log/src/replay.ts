import { MetadataDelta, MetadataImage } from './image/metadata-image.js';
import type { MetadataImageView } from './image/types.js';
import type { RecordBatch } from './records.js';

/** Applies one batch to an image: the controller's speculation uses the same replay as the log. */
export function replayBatch(
  image: MetadataImageView,
  batch: RecordBatch,
  offset: number,
  epoch: number,
): MetadataImage {
  if (!(image instanceof MetadataImage)) throw new TypeError('replayBatch needs a MetadataImage');
  const delta = new MetadataDelta(image);
  delta.replayBatch(batch, offset, epoch);
  return delta.apply();
}
