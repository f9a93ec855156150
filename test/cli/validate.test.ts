import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wasp } from '../helpers/cli.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';

const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]']
  .concat(['b', 'c', 'd', 'e', 'f', 'g', 'h'].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`))
  .join('\n');

describe('wasp validate on a hostile file', () => {
  it('reports an alias bomb at its position and goes on to the next file', async () => {
    const bad = await writeConfig(bomb, 'bomb.yaml');
    const good = join(dirname(bad), 'good.yaml');
    await writeFile(
      good,
      `name: t\nplugins: { text: { path: ${textPlugin} } }\ninput: { stdin: true }\nstages: [{ name: u, plugin: text, function: upper }]\noutput: { stdout: true }\n`,
    );
    const result = await wasp(['validate', bad, good]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: [a-h]\\[\\d+\\]: alias`));
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stdout).toBe(`${good}: ok\n`);
  });
});
