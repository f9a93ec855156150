// Stage calls as OpenTelemetry spans, with an SDK registered as a program would register one (a
// tracer provider and the W3C trace-context propagator), exporting to memory: a span per call,
// under the trace of the input's traceparent, with its attributes and its failure; and none at
// all when no SDK was registered as the pipeline started.
import { propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NativeStageFunction } from '../../src/pipeline/stages/native-stage.js';
import { Headers } from '../../src/transport/headers.js';
import { embeddedPipeline, TEXT_DEAD_LETTER, textPipelineYaml } from '../helpers/pipelines.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const traceparent = `00-${TRACE_ID}-${PARENT_ID}-01`;
const tracestate = 'wasp=t1,other=v1';

const yaml = (stages: string) => textPipelineYaml('traced', stages, TEXT_DEAD_LETTER);

// words flat-maps a line into words; audit emits each word to audit.text; check fails a word with an x
const threeStages = (auditMode: 'inline' | 'worker' = 'inline') => `
  - { name: words, plugin: text, function: words }
  - { name: audit, plugin: text, function: audit, emits: [audit.>], pool: { size: 1, mode: ${auditMode} } }
  - { name: check, plugin: text, function: fail_on_x }`;

function register(): InMemorySpanExporter {
  const exporter = new InMemorySpanExporter();
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return exporter;
}

/** A span as the test compares it: the data it was made with, in order of the words it handled. */
function summary(span: ReadableSpan) {
  return {
    name: span.name,
    traceId: span.spanContext().traceId,
    parent: span.parentSpanContext?.spanId,
    status: span.status.code,
    outcome: span.attributes['wasp.outcome'],
  };
}

const byStage = (spans: ReadableSpan[], stage: string) => spans.filter((s) => s.attributes['wasp.stage'] === stage);

describe('stage calls as spans, with an SDK registered', () => {
  let exporter: InMemorySpanExporter;
  beforeEach(() => {
    exporter = register();
  });
  afterEach(() => {
    trace.disable();
    propagation.disable();
  });

  it('makes a span per stage call under the input\'s trace, with its attributes; a failed call has an error status and its exception', async () => {
    const p = await embeddedPipeline(yaml(threeStages()));
    p.bus.publish('text.in', Buffer.from('one box'), new Headers().set('traceparent', traceparent).set('tracestate', tracestate));
    await p.pipeline.drain();
    const spans = exporter.getFinishedSpans();

    // one call of words, then one of audit and of check per word
    expect(spans.map(summary)).toEqual([
      { name: 'traced.words', traceId: TRACE_ID, parent: PARENT_ID, status: SpanStatusCode.UNSET, outcome: 'out' },
      { name: 'traced.audit', traceId: TRACE_ID, parent: PARENT_ID, status: SpanStatusCode.UNSET, outcome: 'out' },
      { name: 'traced.check', traceId: TRACE_ID, parent: PARENT_ID, status: SpanStatusCode.UNSET, outcome: 'out' },
      { name: 'traced.audit', traceId: TRACE_ID, parent: PARENT_ID, status: SpanStatusCode.UNSET, outcome: 'out' },
      { name: 'traced.check', traceId: TRACE_ID, parent: PARENT_ID, status: SpanStatusCode.ERROR, outcome: 'failed' },
    ]);
    for (const span of spans) {
      expect(span.kind).toBe(SpanKind.CONSUMER);
      expect(span.ended).toBe(true);
      expect(span.parentSpanContext?.isRemote).toBe(true);
      expect(span.spanContext().traceState?.serialize()).toBe(tracestate);
      expect(span.instrumentationScope.name).toBe('wasp-streams');
    }
    expect(byStage(spans, 'words')[0]!.attributes).toEqual({
      'wasp.pipeline': 'traced',
      'wasp.stage': 'words',
      'wasp.plugin': 'text',
      'wasp.function': 'words',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'text.in',
      'wasp.outcome': 'out',
      'wasp.outputs': 2,
      'wasp.side_outputs': 0,
    });
    expect(byStage(spans, 'audit').map((s) => [s.attributes['wasp.outputs'], s.attributes['wasp.side_outputs']])).toEqual([
      [1, 1],
      [1, 1],
    ]);

    const failed = byStage(spans, 'check')[1]!;
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringMatching(/contains x/) });
    expect(failed.attributes['error.type']).toBe('PluginCallError');
    expect(failed.attributes['wasp.outputs']).toBe(0);
    expect(failed.events.map((e) => [e.name, e.attributes?.['exception.type']])).toEqual([['exception', 'PluginCallError']]);

    // the outputs keep the input's trace context as it came, not the spans'
    const out = p.seen.filter((m) => m.subject !== 'text.in');
    expect(out.length).toBe(4); // an output, two side outputs and a dead letter
    for (const m of out) expect([m.subject, m.headers?.get('traceparent')]).toEqual([m.subject, traceparent]);
  });

  it('a trap is a failed span too; spans time each call, in worker threads as inline', async () => {
    const p = await embeddedPipeline(yaml(`${threeStages('worker')}
  - { name: trap, plugin: text, function: trap_on_x }`));
    p.bus.publish('text.in', Buffer.from('one'), new Headers().set('traceparent', traceparent));
    await p.pipeline.drain();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.attributes['wasp.stage'], s.spanContext().traceId, s.parentSpanContext?.spanId])).toEqual(
      ['words', 'audit', 'check', 'trap'].map((stage) => [stage, TRACE_ID, PARENT_ID]),
    );
    for (const s of spans) expect(s.duration[0] * 1e9 + s.duration[1]).toBeGreaterThan(0);

    const trapped = await embeddedPipeline(yaml('  - { name: trap, plugin: text, function: trap_on_x }'));
    exporter.reset();
    trapped.bus.publish('text.in', Buffer.from('x'), new Headers().set('traceparent', traceparent));
    await trapped.pipeline.drain();
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes['error.type']).toBe('PluginTrapError');
    expect(span?.attributes['wasp.outcome']).toBe('failed');
  });

  it('an input without a traceparent: its first stage call starts a trace, the input\'s later calls join it', async () => {
    const p = await embeddedPipeline(yaml(threeStages()));
    p.send('text.in', 'one two', 'three');
    await p.pipeline.drain();
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(2 + 2 * 3);
    const [first, ...rest] = spans.slice(0, 5); // the first input's: words, then audit and check per word
    expect(first!.parentSpanContext).toBeUndefined();
    for (const s of rest) expect([s.spanContext().traceId, s.parentSpanContext?.spanId]).toEqual([first!.spanContext().traceId, first!.spanContext().spanId]);
    // the second input is a trace of its own
    const second = spans.slice(5);
    expect(second[0]!.parentSpanContext).toBeUndefined();
    expect(second[0]!.spanContext().traceId).not.toBe(first!.spanContext().traceId);
    for (const s of second.slice(1)) expect(s.parentSpanContext?.spanId).toBe(second[0]!.spanContext().spanId);
  });

  it('reads the trace context whatever the header names\' case, as W3C trace context asks', async () => {
    const p = await embeddedPipeline(yaml('  - { name: upper, plugin: text, function: upper }'));
    p.bus.publish('text.in', Buffer.from('a'), new Headers().set('Traceparent', traceparent).set('TraceState', tracestate));
    await p.pipeline.drain();
    const [span] = exporter.getFinishedSpans();
    expect([span?.spanContext().traceId, span?.parentSpanContext?.spanId, span?.spanContext().traceState?.serialize()]).toEqual([TRACE_ID, PARENT_ID, tracestate]);
  });

  it('a JavaScript stage in a plugin stage\'s place is a span as well', async () => {
    const native: Record<string, NativeStageFunction> = {
      upper: (d) => [Buffer.from(Buffer.from(d).toString().toUpperCase())],
      boom: () => {
        throw new Error('boom');
      },
    };
    const p = await embeddedPipeline(
      yaml(`  - { name: upper, plugin: text, function: upper }
  - { name: boom, plugin: text, function: identity }`),
      {},
      native,
    );
    p.bus.publish('text.in', Buffer.from('a'), new Headers().set('traceparent', traceparent));
    await p.pipeline.drain();
    expect(exporter.getFinishedSpans().map((s) => [s.name, s.spanContext().traceId, s.attributes['wasp.outcome'], s.status.code])).toEqual([
      ['traced.upper', TRACE_ID, 'out', SpanStatusCode.UNSET],
      ['traced.boom', TRACE_ID, 'failed', SpanStatusCode.ERROR],
    ]);
  });
});

describe('stage calls without an SDK', () => {
  afterEach(() => {
    trace.disable();
    propagation.disable();
  });

  it('makes no span when none was registered as the pipeline started, even once one is', async () => {
    const p = await embeddedPipeline(yaml(threeStages()));
    p.bus.publish('text.in', Buffer.from('one box'), new Headers().set('traceparent', traceparent));
    // registered now, the SDK would record whatever the pipeline still asked of the API per message
    const exporter = register();
    p.bus.publish('text.in', Buffer.from('two fox'), new Headers().set('traceparent', traceparent));
    await p.pipeline.drain();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(p.pipeline.stats).toMatchObject({ received: 2, published: 2, deadLettered: 2 });
    // the trace context still travels
    for (const m of p.seen.filter((m) => m.subject !== 'text.in')) expect(m.headers?.get('traceparent')).toBe(traceparent);
  });
});
