import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTestSuite } from '../../src/pipeline/cases/suite.js';
import { wasp } from '../helpers/cli.js';
import { TEXT_DEAD_LETTER, textPipelineYaml, textPlugin, writeConfig } from '../helpers/pipelines.js';
import { root } from '../helpers/plugins.js';

const pipeline = (stages: string, extra = '') => textPipelineYaml('t', stages, TEXT_DEAD_LETTER + extra);

const upperAudit = `  - { name: upper, plugin: text, function: upper }
  - { name: audit, plugin: text, function: audit, emits: [audit.>] }`;

describe('wasp test', () => {
  it('runs the test cases of every example pipeline, and every example pipeline has some', async () => {
    const dir = join(root, 'pipelines');
    const entries = await readdir(dir, { recursive: true });
    const pipelines = entries.filter((f) => /\.ya?ml$/.test(f) && !/\.test\.ya?ml$/.test(f)).map((f) => join(dir, f));
    expect(pipelines.length).toBeGreaterThan(3);
    for (const file of pipelines) {
      const suite = await loadTestSuite(file, { env: {} });
      expect(suite.cases.length, `${file} has no test cases`).toBeGreaterThan(0);
    }
    const result = await wasp(['test', 'pipelines']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    for (const file of pipelines) expect(result.stdout).toContain(`${file.slice(root.length)} (`);
    expect(result.stdout).toMatch(/\d+ case\(s\): \d+ passed, 0 failed\n$/);
    expect(result.stdout).not.toContain('✗');
  });

  it('passes a case whose outputs, side outputs and dead letters are as written, headers included', async () => {
    const file = await writeConfig(
      pipeline(
        `  - { name: check, plugin: text, function: fail_on_x }\n${upperAudit}`,
        `tests:
  - name: all three kinds
    input:
      - { data: "ab", headers: { X-Id: "1" } }
      - { data: "xy", subject: text.in, headers: { X-Id: "2" } }
    outputs:
      - { data: "AB", headers: { X-Id: "1" } }
    sideOutputs:
      - { subject: audit.text, data: { base64: "QUI=" } }
    deadLetters:
      - { data: "xy", errorType: PluginCallError, headers: { X-Id: "2", Wasp-Stage: check, Wasp-Subject: text.in } }
`,
      ),
    );
    const result = await wasp(['test', file]);
    expect(result.stdout).toMatch(/✓ all three kinds \(/);
    expect(result.stdout).toMatch(/1 case\(s\): 1 passed, 0 failed\n$/);
    expect(result.code).toBe(0);
  });

  it('fails a case that differs, with a diff for each difference, and exits 1', async () => {
    const file = await writeConfig(
      pipeline(
        `  - { name: check, plugin: text, function: fail_on_x }\n${upperAudit}`,
        `tests:
  - name: right
    input: [{ data: "ok" }]
    outputs: [{ data: "OK" }]
    sideOutputs: [{ subject: audit.text, data: "OK" }]
  - name: wrong
    input:
      - { data: "hello", headers: { X-Id: "7" } }
      - { data: "box" }
    outputs:
      - { data: "HELLO!", headers: { X-Id: "8", X-Missing: "m" } }
      - { data: "BOX" }
    sideOutputs:
      - { subject: audit.words, data: "HELLO" }
`,
      ),
    );
    const result = await wasp(['test', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('✓ right');
    const diff = result.stdout.slice(result.stdout.indexOf('✗ wrong'));
    expect(diff).toContain('outputs[0].data\n        - "HELLO!"\n        + "HELLO"\n');
    expect(diff).toContain('outputs[0].headers.X-Id\n        - "8"\n        + "7"\n');
    expect(diff).toContain('outputs[0].headers.X-Missing\n        - "m"\n        + (absent)\n');
    expect(diff).toContain('outputs[1]: expected 2, got 1\n        - "BOX"\n');
    expect(diff).toContain('sideOutputs[0].subject\n        - audit.words\n        + audit.text\n');
    // "box" failed: nothing expected it
    expect(diff).toMatch(/deadLetters\[0\]: not expected\n {8}\+ text\.dlq "box" \(PluginCallError: .*contains x/);
    expect(result.stdout).toMatch(/2 case\(s\): 1 passed, 1 failed\n$/);
  });

  it('runs a JetStream pipeline in process, whatever its nats: says, with cases in NAME.test.yaml', async () => {
    const file = await writeConfig(`
name: js
nats: { servers: nats://127.0.0.1:1 }
plugins:
  text: { path: ${textPlugin} }
input: { stream: S, consumer: c, subject: "text.*" }
stages:
${upperAudit}
output: { subject: text.out }
deadLetter: { subject: text.dlq }
`, 'js.yaml');
    await writeFile(join(dirname(file), 'js.test.yaml'), `tests:\n  - name: beside\n    input: [{ data: "a", subject: text.a }]\n    outputs: [{ data: "A" }]\n    sideOutputs: [{ subject: audit.text, data: "A" }]\n`);
    const result = await wasp(['test', dirname(file)]);
    expect(result.stdout).toContain('js.yaml (js)\n  ✓ beside');
    expect(result.code).toBe(0);
  });

  it('points at a case that could never happen, in the pipeline file or the test file', async () => {
    const inline = await writeConfig(pipeline(upperAudit, `tests:\n  - name: elsewhere\n    input: [{ data: "a", subject: other.subject }]\n`));
    let result = await wasp(['test', inline]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${inline}:13:`);
    expect(result.stderr).toContain('tests[0].input[0].subject: other.subject is not a subject the input (text.in) receives');
    // wasp validate checks the cases too
    expect((await wasp(['validate', inline])).stderr).toContain('tests[0].input[0].subject');

    const stdin = await writeConfig(
      `name: s\nplugins: { text: { path: ${textPlugin} } }\ninput: { stdin: true }\nstages: [{ name: u, plugin: text, function: upper }]\noutput: { stdout: true }\n`,
      'lines.yaml',
    );
    const sidecar = join(dirname(stdin), 'lines.test.yaml');
    await writeFile(sidecar, `tests:\n  - name: headers\n    input:\n      - { data: "a", headers: { X: "1" } }\n      - { data: "two\\nlines" }\n    outputs: []\n    unknown: 1\n`);
    result = await wasp(['test', sidecar]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${sidecar}:7:5: tests[0].unknown: unknown key`);
    await writeFile(sidecar, `tests:\n  - name: headers\n    input:\n      - { data: "a", headers: { X: "1" } }\n      - { data: "two\\nlines" }\n`);
    result = await wasp(['test', stdin]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${sidecar}:4:`);
    expect(result.stderr).toContain('tests[0].input[0].headers: a stdin input\'s messages are lines, with no headers');
    expect(result.stderr).toContain('tests[0].input[1].data: a stdin input reads one message per line');
  });

  it('a stage deadline in a case: the runaway message is dead-lettered with PluginTimeoutError', async () => {
    const file = await writeConfig(
      pipeline(
        `  - { name: spin, plugin: text, function: spin_on_x, timeoutMs: 100 }`,
        `tests:\n  - name: loops\n    input: [{ data: "x" }, { data: "y" }]\n    outputs: [{ data: "y" }]\n    deadLetters: [{ data: "x", errorType: PluginTimeoutError }]\n`,
      ),
    );
    const result = await wasp(['test', file]);
    expect(result.stdout).toContain('✓ loops');
    expect(result.code).toBe(0);
  });

  it('a case that never ends (no deadline, a worker thread spinning) fails at --timeout, and the process exits', async () => {
    const file = await writeConfig(
      pipeline(
        `  - { name: spin, plugin: text, function: spin_on_x, timeoutMs: 0, pool: { size: 1, mode: worker } }`,
        `tests:\n  - name: forever\n    input: [{ data: "x" }]\n`,
      ),
    );
    const result = await wasp(['test', file, '--timeout', '300']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('✗ forever');
    expect(result.stdout).toContain('did not finish within 300 ms (1 of 1 message(s) still in flight)');
  });

  it('says what it did not find, and what is a usage mistake', async () => {
    const file = await writeConfig(pipeline(upperAudit));
    let result = await wasp(['test', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('no test cases: add a tests: list');
    const empty = join(dirname(file), 'empty');
    await mkdir(empty);
    result = await wasp(['test', empty]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no pipeline with test cases found in ${empty}`);
    result = await wasp(['test', join(empty, 'missing.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no such file or directory');
    expect((await wasp(['test'])).code).toBe(2);
    expect((await wasp(['test', file, '--timeout', 'soon'])).code).toBe(2);
    // past a timer's range it would fire at once and fail every case
    const late = await wasp(['test', file, '--timeout', '3000000000']);
    expect(late.code).toBe(2);
    expect(late.stderr).toContain('--timeout needs a number of milliseconds from 1 to 2147483647');
    expect((await wasp(['test', file, '--bogus'])).code).toBe(2);
    expect(await readFile(file, 'utf8')).not.toContain('tests:');
  });
});
