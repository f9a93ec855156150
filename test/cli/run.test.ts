import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { spawnWasp, wasp, waspBin } from '../helpers/cli.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';
import { root } from '../helpers/plugins.js';
import { Engine } from '../../src/index.js';

function runWithStdin(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [waspBin, ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('wasp run', () => {
  it('reads stdin and writes only messages to stdout, then drains at end of input', async () => {
    const result = await runWithStdin(['run', 'pipelines/text/stdin.yaml'], 'hello\nwasp 🐝\n\nbye\n');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('HELLO\nWASP 🐝\nBYE\n');
    expect(result.stderr).toMatch(/summary: 4 in, 3 out, 0 failed \(logged: no deadLetter\)/);
    expect(result.stderr).toMatch(/upper +in +4 +out +3 +dropped +1 +failed +0/);
  });

  it('--tap shows every side output and dead letter of a stdin pipeline; the summary speaks of what the input has', async () => {
    const stages = `stages:
  - { name: check, plugin: text, function: fail_on_x }
  - { name: audit, plugin: text, function: audit, emits: [audit.>] }
output: { stdout: true }`;
    const withDlq = await writeConfig(`name: tapped\nplugins: { text: { path: ${textPlugin} } }\ninput: { stdin: true }\n${stages}\ndeadLetter: { subject: lines.dlq }\n`);
    const tapped = await runWithStdin(['run', withDlq, '--tap'], 'ok\nbox\n');
    expect(tapped.code).toBe(0);
    expect(tapped.stdout).toBe('ok\n');
    expect(tapped.stderr).toMatch(/^emit audit\.text: ok$/m);
    expect(tapped.stderr).toMatch(/^dead lines\.dlq: box \{"Wasp-Stage":"check","Wasp-Plugin":"text","Wasp-Function":"fail_on_x","Wasp-Error":"[^"]*contains x","Wasp-Error-Type":"PluginCallError","Wasp-Subject":"stdin"\}$/m);
    expect(tapped.stderr).toMatch(/summary: 2 in, 1 out, 1 dead-lettered in [\d.]+ s\n/);
    expect(tapped.stderr).not.toMatch(/acked/);
    // without --tap, side outputs and dead letters are not shown
    const quiet = await runWithStdin(['run', withDlq], 'ok\nbox\n');
    expect(quiet.stderr).not.toMatch(/^(emit|dead) /m);
    // without deadLetter a failure is logged, and the summary says so
    const noDlq = await writeConfig(`name: tapped\nplugins: { text: { path: ${textPlugin} } }\ninput: { stdin: true }\n${stages}\n`);
    const logged = await runWithStdin(['run', noDlq, '--tap'], 'ok\nbox\n');
    expect(logged.stderr).toMatch(/ERROR message failed: .*contains x/);
    expect(logged.stderr).toMatch(/summary: 2 in, 1 out, 1 failed \(logged: no deadLetter\) in/);
    const discard = await writeConfig(`name: tapped\nplugins: { text: { path: ${textPlugin} } }\ninput: { stdin: true }\n${stages}\ndeadLetter: { discard: true }\n`);
    expect((await runWithStdin(['run', discard], 'ok\nbox\n')).stderr).toMatch(/summary: 2 in, 1 out, 1 failed \(discarded\) in/);
  });

  it('runs a worker-pool stage from stdin, keeping input order', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(i % 17)}`);
    const engine = new Engine();
    await engine.registerPlugin('text', textPlugin);
    const inline = await engine.getInstance('text');
    const result = await runWithStdin(['run', 'pipelines/text/workers.yaml'], `${lines.join('\n')}\n`);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(lines.map((l) => `${inline.callString('burn', l)}\n`).join(''));
    expect(result.stderr).toMatch(/summary: 200 in, 200 out, 0 failed \(logged: no deadLetter\)/);
  });

  it('refuses a broken file before touching NATS, with every problem', async () => {
    const file = await writeConfig(`name: t
nats: { servers: nats://127.0.0.1:1 }
plugins: { text: { path: ${textPlugin} } }
input: { subject: in, stdin: true }
stages: [{ name: u, plugin: text, function: nope }]
output: { subject: out }
`);
    const started = Date.now();
    const result = await wasp(['run', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `${file}:4:8: input: needs exactly one of subject, stream (+ consumer) or stdin: true\n` +
        `${file}:5:45: stages[0].function: plugin text exports no function nope\n`,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('exits 2 on usage mistakes', async () => {
    expect((await wasp(['run'])).code).toBe(2);
    expect((await wasp(['run', 'a.yaml', 'b.yaml'])).code).toBe(2);
    expect((await wasp(['run', 'a.yaml', '--log-level', 'loud'])).code).toBe(2);
  });

  it('drains on SIGTERM on the embedded bus', async () => {
    const p = spawnWasp(['run', 'pipelines/text/pipeline.yaml']);
    await p.waitFor('running');
    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
    expect(p.stderr()).toMatch(/SIGTERM: draining/);
    expect(p.stderr()).toMatch(/summary: 0 in/);
  });
});

describe('wasp validate', () => {
  it('says ok for good files and points at every problem in bad ones', async () => {
    const bad = await writeConfig(`name: t
plugins:
  text: { path: ${textPlugin} }
input: { subject: in }
stages:
  - name: u
    plugin: text
    function: upper
    colour: red
output: { subject: out.> }
`);
    const result = await wasp(['validate', 'pipelines/text/jetstream.yaml', bad]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('pipelines/text/jetstream.yaml: ok\npipelines/text/jetstream.test.yaml: ok\n');
    expect(result.stderr).toBe(
      `${bad}:9:5: stages[0].colour: unknown key\n` +
        `${bad}:10:20: output.subject: not a valid NATS subject to publish to (tokens separated by dots, no wildcards or spaces)\n`,
    );
  });

  it('validates every example pipeline', async () => {
    const result = await wasp(['validate', 'pipelines/text/pipeline.yaml', 'pipelines/text/stdin.yaml', 'pipelines/text/nats.yaml', 'pipelines/text/jetstream.yaml', 'pipelines/text/workers.yaml']);
    expect(result.code).toBe(0);
    // the embedded demo (npm start publishes to it) is the one with a warning: run alone, nothing reaches its input
    expect(result.stderr).toMatch(/^pipelines\/text\/pipeline\.yaml:\d+:\d+: input\.subject: warning: without nats: the input is the embedded bus[^\n]*\n$/);
  });

  it('exits 2 without files', async () => {
    expect((await wasp(['validate'])).code).toBe(2);
  });
});

describe('npm start', () => {
  it('runs the demo pipeline over the sample data and prints outputs and a per-stage summary', async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [`${root}dist/src/cli/demo.js`], (error, stdout) => (error ? reject(error) : resolve(stdout))),
    );
    expect(out).toMatch(/output +text\.out +QUICK/);
    expect(out).toMatch(/side out +audit\.text +QUICK/);
    expect(out).toMatch(/dead +text\.dlq +fox +\(plugin text: fail_on_x failed with status 1: contains x\)/);
    expect(out).toMatch(/summary: 5 in, \d+ out, 4 dead-lettered/);
    expect(out).toMatch(/check +in +21/);
    void writeFile;
  });
});
