import { describe, expect, it } from 'vitest';
import { patternsOverlap } from '../../../src/engine/subjects.js';
import { loadPipelineFile } from '../../../src/pipeline/config/load.js';
import { spawnWasp, wasp } from '../../helpers/cli.js';
import { textPlugin, writeConfig } from '../../helpers/pipelines.js';

const file = (parts: { nats?: string; input: string; stages?: string; output?: string; deadLetter?: string; plugins?: string }) => `name: lint
${parts.nats ?? 'nats: { servers: nats://127.0.0.1:1 }'}
plugins:
  text: { path: ${textPlugin} }
${parts.plugins ?? ''}
input: ${parts.input}
stages:
${parts.stages ?? '  - { name: upper, plugin: text, function: upper }'}
output: ${parts.output ?? '{ subject: out }'}
${parts.deadLetter ?? ''}
`;

async function warnings(yaml: string) {
  return (await loadPipelineFile(await writeConfig(yaml))).warnings.map((w) => `${w.line}:${w.column} ${w.path} [${w.kind}] ${w.message}`);
}

describe('warnings: what a file may mean without being wrong', () => {
  it('tells which subject patterns can meet', () => {
    expect(patternsOverlap('a.b', 'a.b')).toBe(true);
    expect(patternsOverlap('a.*', 'a.b')).toBe(true);
    expect(patternsOverlap('a.>', 'a.b.c')).toBe(true);
    expect(patternsOverlap('>', 'x')).toBe(true);
    expect(patternsOverlap('a.*', '*.b')).toBe(true);
    expect(patternsOverlap('a.b', 'a.c')).toBe(false);
    expect(patternsOverlap('a.*', 'a.b.c')).toBe(false);
    expect(patternsOverlap('a.>', 'a')).toBe(false);
    expect(patternsOverlap('a', 'a.>')).toBe(false);
    expect(patternsOverlap('*.*', 'a')).toBe(false);
  });

  it('an output, a dead letter or a side output the input receives again: a loop, pointed at', async () => {
    const found = await warnings(
      file({
        input: '{ subject: "text.>" }',
        stages: '  - { name: audit, plugin: text, function: audit, emits: [audit.>, "text.*"] }',
        output: '{ subject: text.out }',
        deadLetter: 'deadLetter: { subject: text.dlq }',
      }),
    );
    expect(found).toEqual([
      expect.stringMatching(/^9:\d+ output\.subject \[loop\] the output subject text\.out overlaps what the input \(text\.>\) receives: what is sent there comes back as input, an endless loop$/),
      expect.stringMatching(/^10:\d+ deadLetter\.subject \[loop\] the dead-letter subject text\.dlq overlaps/),
      expect.stringMatching(/^8:\d+ stages\[0\]\.emits\[1\] \[loop\] the side-output pattern text\.\* overlaps/),
    ]);
    // a stream's subject is its input too
    expect(await warnings(file({ input: '{ stream: S, consumer: c, subject: "orders.*" }', output: '{ subject: orders.done }', deadLetter: 'deadLetter: { discard: true }' }))).toEqual([
      expect.stringMatching(/output\.subject \[loop\] the output subject orders\.done/),
    ]);
    expect(await warnings(file({ input: '{ subject: in }' }))).toEqual([]);
  });

  it('a subject input with no nats: waits forever under wasp run; stdin and NATS inputs do not', async () => {
    expect(await warnings(file({ nats: '', input: '{ subject: in }' }))).toEqual([expect.stringMatching(/^6:\d+ input\.subject \[unreachable-input\] without nats: the input is the embedded bus/)]);
    expect(await warnings(file({ nats: '', input: '{ stdin: true }', output: '{ stdout: true }' }))).toEqual([]);
  });

  it('keys that change nothing: ordered: false inline, a plugin no stage uses, a timeoutMs every stage overrides', async () => {
    const found = await warnings(
      file({
        input: '{ subject: in }',
        plugins: `  spare: { path: ${textPlugin} }\n  timed: { path: ${textPlugin}, timeoutMs: 50 }`,
        stages: [
          '  - { name: a, plugin: text, function: upper, ordered: false }',
          '  - { name: b, plugin: text, function: upper, ordered: false, pool: { size: 2, mode: worker } }',
          '  - { name: c, plugin: timed, function: upper, timeoutMs: 100 }',
        ].join('\n'),
      }),
    );
    expect(found).toEqual([
      expect.stringMatching(/stages\[0\]\.ordered \[no-effect\] ordered: false has no effect on an inline pool/),
      expect.stringMatching(/plugins\.spare \[no-effect\] no stage uses plugin spare/),
      expect.stringMatching(/plugins\.timed\.timeoutMs \[no-effect\] timeoutMs 50 has no effect: every stage of plugin timed sets its own/),
    ]);
  });

  it('wasp validate prints warnings on stderr and passes, unless --strict; wasp run logs them', async () => {
    const config = await writeConfig(file({ input: '{ subject: "a.*" }', output: '{ subject: a.b }' }));
    const result = await wasp(['validate', config]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${config}: ok (1 warning(s))\n`);
    expect(result.stderr).toMatch(new RegExp(`^${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: output\\.subject: warning: the output subject a\\.b`));
    const strict = await wasp(['validate', '--strict', config]);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toBe('');
    // wasp run says so at start, before it waits for NATS
    const run = spawnWasp(['run', config]);
    try {
      await run.waitFor(/WARN +output\.subject: the output subject a\.b overlaps what the input \(a\.\*\) receives/);
      run.child.kill('SIGINT');
      expect((await run.exited).code).toBe(0);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});
