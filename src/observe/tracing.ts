// Stage calls as OpenTelemetry spans, through @opentelemetry/api. Wasp registers no SDK: a program
// that wants spans registers one (a tracer provider, and a propagator: the SDKs register W3C trace
// context by default) before it starts its pipelines. Whether one is registered is asked once, as a
// pipeline starts; without one its stages get no tracer, and the message path spends nothing on it.
//
// A span's parent is the context the input's headers carry (traceparent, tracestate), read by the
// registered propagator. Outputs, side outputs and dead letters keep the input's headers as they
// came, so the input's trace context travels on unchanged, not the spans'.
import {
  propagation,
  ProxyTracer,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type SpanOptions,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import type { WaspError } from '../engine/errors.js';
import type { StageSpec, StageTracer } from '../pipeline/stages/plugin-stage.js';
import type { Work } from '../pipeline/work.js';
import type { Headers } from '../transport/headers.js';
import { VERSION } from '../version.js';

/** The instrumentation scope of Wasp's spans. */
export const TRACER_NAME = 'wasp-streams';

/** Attributes of a stage call's span, besides those of the messaging semantic conventions. */
export const SPAN_ATTRIBUTES = {
  pipeline: 'wasp.pipeline',
  stage: 'wasp.stage',
  plugin: 'wasp.plugin',
  function: 'wasp.function',
  /** out (one output or more), dropped (none) or failed: as wasp_stage_messages_total counts it */
  outcome: 'wasp.outcome',
  outputs: 'wasp.outputs',
  sideOutputs: 'wasp.side_outputs',
} as const;

/**
 * Our headers as a propagator reads them. Header names are case-insensitive in W3C trace context,
 * and some clients send Traceparent: an exact match first, then any case. Several values of a
 * name go as a list, which the W3C propagator joins (tracestate) or reads the first of (traceparent).
 */
const HEADERS: TextMapGetter<Headers | undefined> = {
  keys: (h) => (h === undefined ? [] : Array.from(h.entries(), ([name]) => name)),
  get(h, key) {
    if (h === undefined) return undefined;
    let values = h.values(key);
    if (values.length === 0) {
      const wanted = key.toLowerCase();
      for (const [name, v] of h.entries()) {
        if (name.toLowerCase() === wanted) {
          values = v;
          break;
        }
      }
    }
    return values.length === 0 ? undefined : values.length === 1 ? values[0] : [...values];
  },
};

/** A pipeline's tracing when an SDK is registered; undefined when none is, and nothing is traced. */
export function pipelineTracing(pipeline: string): PipelineTracing | undefined {
  const tracer = trace.getTracer(TRACER_NAME, VERSION);
  // While no provider is registered the API hands out a ProxyTracer, whose every span would be a
  // no-op object made per call; a registered provider hands out its own tracer.
  return tracer instanceof ProxyTracer ? undefined : new PipelineTracing(tracer, pipeline);
}

/**
 * A tracer per stage. The context an input's calls start under is read from its headers once, at
 * its first call, and kept on its flight for the rest. An input without a trace context gets one
 * from its first call: that call's span starts a trace, and the input's later calls are its
 * children, so that one input is one trace.
 */
export class PipelineTracing {
  constructor(
    readonly tracer: Tracer,
    readonly pipeline: string,
  ) {}

  stage(spec: StageSpec): StageTracer<Span> {
    const tracer = this.tracer;
    const name = `${this.pipeline}.${spec.name}`;
    // one options object per stage: the SDK copies what it keeps
    const options: SpanOptions = {
      kind: SpanKind.CONSUMER,
      attributes: {
        [SPAN_ATTRIBUTES.pipeline]: this.pipeline,
        [SPAN_ATTRIBUTES.stage]: spec.name,
        [SPAN_ATTRIBUTES.plugin]: spec.plugin,
        [SPAN_ATTRIBUTES.function]: spec.function,
        'messaging.operation.type': 'process',
      },
    };
    return {
      begin(work: Work): Span {
        const flight = work.flight;
        let span: Span;
        if (flight.traceContext !== undefined) {
          span = tracer.startSpan(name, options, flight.traceContext as Context);
        } else {
          const parent = propagation.extract(ROOT_CONTEXT, flight.delivery.headers, HEADERS);
          span = tracer.startSpan(name, options, parent);
          flight.traceContext = trace.getSpanContext(parent) === undefined ? trace.setSpan(parent, span) : parent;
        }
        span.setAttribute('messaging.destination.name', work.subject);
        return span;
      },
      end(span: Span, outputs: number, emits: number, error: WaspError | undefined): void {
        if (span.isRecording()) {
          span.setAttribute(SPAN_ATTRIBUTES.outcome, error !== undefined ? 'failed' : outputs === 0 ? 'dropped' : 'out');
          span.setAttribute(SPAN_ATTRIBUTES.outputs, outputs);
          span.setAttribute(SPAN_ATTRIBUTES.sideOutputs, emits);
          if (error !== undefined) {
            span.setAttribute('error.type', error.name);
            span.recordException(error);
            span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
          }
        }
        span.end();
      },
    };
  }
}
