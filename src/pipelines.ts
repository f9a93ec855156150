// The entry point for embedding pipelines in a program (`wasp-streams/pipelines`): load a pipeline
// file, run it on a transport of your choosing, and tell its failures apart by class. The engine's
// own API, errors included, is the package's main entry (src/index.ts).
export { Pipeline, DEAD_LETTER_HEADERS, type PipelineIO, type PipelineTimings } from './pipeline/pipeline.js';
export { withFields } from './engine/logger.js';
export { SPAN_ATTRIBUTES, TRACER_NAME } from './observe/tracing.js';
export { PipelineStats, StageStats } from './pipeline/stats.js';
export type { NativeStageFunction } from './pipeline/stages/native-stage.js';
export { loadPipelineConfig, parsePipelineConfig, loadPipelineFile, parsePipelineFile, pipelineFromValue, ConfigError, type ConfigProblem, type LoadOptions, type LoadedPipeline } from './pipeline/config/load.js';
export type { PipelineConfig, InputConfig, SubjectInputConfig, StreamInputConfig, OutputConfig, PluginConfig, StageConfig, NatsConfig, DeadLetterConfig, PipelineFile, TestCase } from './pipeline/config/schema.js';
export { EmbeddedBus, EmbeddedTransport } from './transport/embedded.js';
export { NatsTransport, DEFAULT_MAX_DELIVER, DEFAULT_PUBLISH_ACK_TIMEOUT_MS, DEFAULT_PUBLISH_RETRY_MS } from './transport/nats.js';
export { connectNats, type NatsSettings, type ConnectOptions } from './transport/connect.js';
export { Headers } from './transport/headers.js';
export type { Delivery, InputSpec, Message, Publisher, PublisherOptions, PublishFor, PublishKind, Source, Transport } from './transport/transport.js';
export { classify, passes, reasonOf, FAILURE_CLASSES, type FailureClass } from './transport/failures.js';
export * from './transport/errors.js';
