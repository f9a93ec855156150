// The one classification of transport failures: transient (retry: nak with backoff, bounded by
// maxDeliver) or permanent (dead-letter at once), case by case, from the errors nats.js really
// raises (its classes and codes, never its messages).
import { JetStreamApiError, JetStreamStatusError, jserrors } from '@nats-io/jetstream/internal';
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  InvalidArgumentError,
  InvalidSubjectError,
  NoRespondersError,
  PermissionViolationError,
  RequestError,
  TimeoutError,
} from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { WaspError } from '../../src/engine/errors.js';
import { PublishRejectedError, TransientPublishError } from '../../src/transport/errors.js';
import { classify, FAILURE_CLASSES, FailureLog, passes, publishFailure, reasonOf } from '../../src/transport/failures.js';
import type { PublishFailureReason } from '../../src/transport/errors.js';

const noResponders = () => new RequestError('no responders', { cause: new NoRespondersError('out.x') });
const apiError = (err_code: number, code: number, description: string) => new JetStreamApiError({ err_code, code, description });

describe('classify', () => {
  const cases: [string, unknown, string, 'transient' | 'permanent'][] = [
    // permanent: retrying cannot fix these
    ['payload + headers over max_payload (checked before publishing)', publishFailure('out.x', 'too-large'), 'too-large', 'permanent'],
    ['an invalid subject (checked before publishing)', publishFailure('out..x', 'invalid-subject'), 'invalid-subject', 'permanent'],
    ['nats.js refusing a subject', new InvalidSubjectError('out..x'), 'invalid-subject', 'permanent'],
    ['no responders to a JetStream publish: no stream captures the subject', new jserrors.JetStreamNotEnabled('jetstream is not enabled', { cause: noResponders() }), 'no-stream', 'permanent'],
    ['a request with no responders', noResponders(), 'no-stream', 'permanent'],
    ['no responders on its own', new NoRespondersError('out.x'), 'no-stream', 'permanent'],
    ['a message over the stream\'s max_msg_size (10054)', apiError(10054, 400, 'message size exceeds maximum allowed'), 'rejected', 'permanent'],
    ['an expected stream that does not match (10060)', apiError(10060, 400, 'expected stream does not match'), 'rejected', 'permanent'],
    ['a publish permission violation', new PermissionViolationError('Permissions Violation for Publish to "out.x"', 'publish', 'out.x'), 'not-permitted', 'permanent'],
    ['an argument nats.js refuses (payload, header value)', InvalidArgumentError.format('payload', 'max_payload size exceeded'), 'invalid-argument', 'permanent'],
    // transient: retried with backoff, at most maxDeliver deliveries
    ['a publish ack that does not come in time', new TimeoutError(), 'timeout', 'transient'],
    ['a closed connection', new ClosedConnectionError(), 'disconnected', 'transient'],
    ['a draining connection', new DrainingConnectionError(), 'disconnected', 'transient'],
    ['a connection error', new ConnectionError('connection refused'), 'disconnected', 'transient'],
    ['a request cut off by a disconnect', new RequestError('connection disconnected'), 'disconnected', 'transient'],
    ['the output stream deleted while running', publishFailure('out.x', 'stream-deleted'), 'stream-deleted', 'transient'],
    ['a stream that captures the subject but does not answer', publishFailure('out.x', 'stream-unavailable'), 'stream-unavailable', 'transient'],
    ['JetStream temporarily unavailable (10008, 503)', apiError(10008, 503, 'JetStream system temporarily unavailable'), 'stream-unavailable', 'transient'],
    ['JetStream not enabled for the account (10039)', new jserrors.JetStreamNotEnabled('JetStream not enabled for account', { cause: apiError(10039, 503, 'JetStream not enabled for account') }), 'jetstream-unavailable', 'transient'],
    ['a full stream refusing new messages (10077)', apiError(10077, 500, 'maximum messages exceeded'), 'server-error', 'transient'],
    ['a status from a pull (409)', new JetStreamStatusError('consumer deleted', 409), 'server-error', 'transient'],
    ['a stream lookup that failed', publishFailure('out.x', 'jetstream-unavailable'), 'jetstream-unavailable', 'transient'],
    ['anything else: retried, and bounded by maxDeliver', new Error('something new'), 'unknown', 'transient'],
    ['a wrapper around a timeout', new WaspError('publish failed', { cause: new TimeoutError() }), 'timeout', 'transient'],
  ];
  for (const [what, error, reason, kind] of cases) {
    it(`${what}: ${kind} (${reason})`, () => {
      expect(reasonOf(error)).toBe(reason);
      expect(classify(error)).toBe(kind);
    });
  }

  it('makes a typed error whose class says which kind it is, with the subject, reason and cause', () => {
    const cause = new TimeoutError();
    const transient = publishFailure('out.x', 'timeout', { cause });
    expect(transient).toBeInstanceOf(TransientPublishError);
    expect(transient).toBeInstanceOf(WaspError);
    expect(transient).toMatchObject({ name: 'TransientPublishError', subject: 'out.x', reason: 'timeout', cause });
    const rejected = publishFailure('out.x', 'too-large', { size: 70_000, limit: 65_536 });
    expect(rejected).toBeInstanceOf(PublishRejectedError);
    expect(rejected).toMatchObject({ name: 'PublishRejectedError', subject: 'out.x', reason: 'too-large', size: 70_000, limit: 65_536 });
    expect(rejected.message).toMatch(/70000 bytes .* max_payload of 65536/);
  });
});

describe('passes', () => {
  // held and retried in place: a failover, a server away; the rest of the transient ones last
  // until someone acts, so they spend the input's deliveries instead
  const held: PublishFailureReason[] = ['timeout', 'disconnected', 'stream-unavailable', 'jetstream-unavailable', 'server-error'];
  for (const reason of Object.keys(FAILURE_CLASSES) as PublishFailureReason[]) {
    it(`${reason}: ${held.includes(reason) ? 'held and retried in place' : 'not held'}`, () => {
      expect(passes(publishFailure('out.x', reason))).toBe(held.includes(reason));
    });
  }
  it('only transient failures pass', () => {
    for (const reason of held) expect(FAILURE_CLASSES[reason]).toBe('transient');
  });
  it('a stream without a leader is told as that, not as "jetstream is not enabled"', () => {
    const error = publishFailure('out.x', 'stream-unavailable', { stream: 'OUT', cause: new jserrors.JetStreamNotEnabled('jetstream is not enabled') });
    expect(error.message).toBe('publish to out.x failed: stream OUT did not answer (no leader: electing one, or its servers are down)');
  });
});

describe('FailureLog', () => {
  it('logs a kind of failure once, then at most once per interval with how many it left out', () => {
    const lines: string[] = [];
    let now = 0;
    const log = new FailureLog({ warn: (m: string) => lines.push(m) }, 10_000, () => now);
    for (let i = 0; i < 100; i++) log.warn('too-large', `publish to out.x rejected (${i})`);
    log.warn('timeout', 'publish to out.y timed out');
    expect(lines).toEqual(['publish to out.x rejected (0)', 'publish to out.y timed out']);
    now = 10_001;
    log.warn('too-large', 'publish to out.x rejected (100)');
    expect(lines[2]).toBe('publish to out.x rejected (100) (and 99 more like it in the last 10 s)');
  });
});
