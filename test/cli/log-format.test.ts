// --log-format json: every line on stderr is one JSON object naming its pipeline (and its stage
// where a stage speaks), the summary included; text stays the default.
import { describe, expect, it } from 'vitest';
import { spawnWasp } from '../helpers/cli.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';

const config = () =>
  writeConfig(`
name: logged
plugins:
  text: { path: ${textPlugin} }
input: { stdin: true }
stages:
  - { name: check, plugin: text, function: fail_on_x }
output: { stdout: true }
`);

describe('--log-format json', () => {
  it('writes one JSON object per line, with pipeline and stage fields, the summary last', async () => {
    const run = spawnWasp(['run', await config(), '--log-format', 'json']);
    run.child.stdin!.end('fine\nbox\nalso fine\n');
    expect((await run.exited).code).toBe(0);
    const lines = run.stderr().trimEnd().split('\n');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) {
      expect(r).toMatchObject({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), level: expect.any(String), msg: expect.any(String), pipeline: 'logged' });
    }
    expect(records.find((r) => String(r.msg).startsWith('message failed'))).toMatchObject({ level: 'error', stage: 'check', function: 'fail_on_x' });
    expect(records.at(-1)).toMatchObject({ msg: 'summary', received: 3, published: 2, deadLettered: 1, stages: [expect.objectContaining({ name: 'check', failed: 1 })] });
    expect(run.stdout()).toBe('fine\nalso fine\n');
  });

  it('keeps text as the default, and refuses an unknown format', async () => {
    const run = spawnWasp(['run', await config()]);
    run.child.stdin!.end('fine\n');
    await run.exited;
    expect(run.stderr()).toMatch(/^\S+ INFO  /m);
    expect(run.stderr()).toMatch(/^summary: 1 in, 1 out/m);
    const bad = spawnWasp(['run', await config(), '--log-format', 'xml']);
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr()).toMatch(/--log-format must be one of text, json/);
  });
});
