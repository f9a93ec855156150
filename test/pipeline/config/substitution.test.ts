// ${VAR} in values the schema wants as numbers or booleans, and the keys of delivery settings.
import { describe, expect, it } from 'vitest';
import { ConfigError, parsePipelineConfig } from '../../../src/pipeline/config/load.js';
import { textPlugin } from '../../helpers/pipelines.js';

// Block style: in a flow map ({ ... }) a plain ${...} is not valid YAML and must be quoted.
const file = (input: string, extra = '') => `name: t
nats:
  servers: nats://127.0.0.1:4222
  user: \${NATS_USER:-wasp}
plugins: { text: { path: ${textPlugin} } }
input: ${input}
stages:
  - name: upper
    plugin: text
    function: upper
    ordered: \${ORDERED:-true}
    pool: \${POOL:-1}
output: { subject: out }
deadLetter: { subject: dlq }
${extra}`;

async function problems(text: string, env: Record<string, string>) {
  try {
    await parsePipelineConfig(text, 'p.yaml', { env, checkPlugins: false });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => [p.line, p.path, p.message]);
  }
  return [];
}

describe('${VAR} substitution', () => {
  it('gives a number or a boolean where the schema wants one, when the value is entirely one ${...}', async () => {
    const config = await parsePipelineConfig(
      file('\n  stream: S\n  consumer: c\n  ackWaitMs: ${ACK_WAIT}\n  maxAckPending: "${PENDING:-64}"\n  maxDeliver: ${MAX_DELIVER}'),
      'p.yaml',
      { env: { ACK_WAIT: '5000', MAX_DELIVER: '3', ORDERED: 'false', NATS_USER: '1234', POOL: '3' }, checkPlugins: false },
    );
    expect(config.input).toMatchObject({ kind: 'stream', ackWaitMs: 5000, maxAckPending: 64, maxDeliver: 3 });
    expect(config.stages[0]!.ordered).toBe(false);
    expect(config.stages[0]!.pool).toEqual({ size: 3, mode: 'inline' });
    // a string key keeps the string, even when it looks like a number
    expect(config.nats!.user).toBe('1234');
  });

  it('still reports a value that is not a number, where it stands', async () => {
    expect(await problems(file('{ stream: S, consumer: c, ackWaitMs: "${ACK_WAIT}" }'), { ACK_WAIT: 'soon' })).toEqual([
      [6, 'input.ackWaitMs', expect.stringMatching(/expected number/)],
    ]);
    // text around the ${...}: a string, as written
    expect(await problems(file('{ stream: S, consumer: c, ackWaitMs: "${ACK_WAIT}0" }'), { ACK_WAIT: '5' })).toEqual([
      [6, 'input.ackWaitMs', expect.stringMatching(/expected number/)],
    ]);
  });
});

describe('delivery settings', () => {
  it('defaults maxDeliver to 5, the publish-ack timeout to 5 s, and reads deadLetter in its three forms', async () => {
    const config = await parsePipelineConfig(file('{ stream: S, consumer: c }'), 'p.yaml', { env: {}, checkPlugins: false });
    expect(config.input).toEqual({ kind: 'stream', stream: 'S', consumer: 'c', subject: undefined, maxAckPending: 256, ackWaitMs: 30000, maxDeliver: 5 });
    expect(config.nats!.publishAckTimeoutMs).toBe(5000);
    expect(config.deadLetter).toEqual({ subject: 'dlq', core: false, discard: false });
    const core = await parsePipelineConfig(file('{ stream: S, consumer: c }').replace('deadLetter: { subject: dlq }', 'deadLetter: { subject: dlq, core: true }'), 'p.yaml', {
      env: {},
      checkPlugins: false,
    });
    expect(core.deadLetter).toEqual({ subject: 'dlq', core: true, discard: false });
    const discard = await parsePipelineConfig(file('{ stream: S, consumer: c }').replace('deadLetter: { subject: dlq }', 'deadLetter: { discard: true }'), 'p.yaml', {
      env: {},
      checkPlugins: false,
    });
    expect(discard.deadLetter).toEqual({ subject: undefined, core: false, discard: true });
  });

  it('refuses a JetStream input without deadLetter, and deadLetter forms that make no sense', async () => {
    const none = file('{ stream: S, consumer: c }').replace('deadLetter: { subject: dlq }\n', '');
    expect(await problems(none, {})).toEqual([[6, 'input.stream', expect.stringMatching(/a JetStream input needs deadLetter: .*discard: true/)]]);
    const both = file('{ subject: in }').replace('deadLetter: { subject: dlq }', 'deadLetter: { subject: dlq, discard: true }');
    expect(await problems(both, {})).toEqual([[14, 'deadLetter', 'needs exactly one of subject or discard: true']]);
    const coreAlone = file('{ subject: in }').replace('deadLetter: { subject: dlq }', 'deadLetter: { discard: true, core: true }');
    expect(await problems(coreAlone, {})).toEqual([[14, 'deadLetter.core', 'core goes with subject']]);
    // a core NATS input needs none: failures are logged and counted
    expect(await problems(file('{ subject: in }').replace('deadLetter: { subject: dlq }\n', ''), {})).toEqual([]);
  });
});
