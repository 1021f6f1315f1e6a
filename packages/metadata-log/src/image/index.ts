export { ClusterDelta, ClusterImageImpl } from './cluster.js';
export { ConfigsDelta, ConfigsImageImpl, ResourceConfigsImpl } from './configs.js';
export { MetadataReplayError } from './errors.js';
export { FeaturesDelta, FeaturesImageImpl } from './features.js';
export { diffImages, EMPTY_PROVENANCE, MetadataDelta, MetadataImage } from './metadata-image.js';
export { Committed, GroupOffsetsImpl, OffsetsDelta, OffsetsImageImpl } from './offsets.js';
export { PMap, PMapBuilder } from './pmap.js';
export { Partition, TopicImageImpl, TopicsDelta, TopicsImageImpl } from './topics.js';
export type * from './types.js';
