import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, parsePipelineConfig, type ConfigProblem } from '../../../src/pipeline/config/load.js';
import { textPlugin } from '../../helpers/pipelines.js';
import { root } from '../../helpers/plugins.js';

/** The problems of a file that must be refused, failing the test on any other outcome. */
async function problems(text: string, env: Record<string, string> = {}): Promise<ConfigProblem[]> {
  let error: unknown;
  try {
    await parsePipelineConfig(text, 'p.yaml', { env });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const found = (error as ConfigError).problems;
  for (const p of found) expect(p.line >= 1 && p.column >= 1, `${p.line}:${p.column}`).toBe(true);
  return found;
}

/** The character a problem points at. */
function at(text: string, p: ConfigProblem): string {
  return text.split('\n')[p.line - 1]!.slice(p.column - 1, p.column);
}

const laughs = ['a: &a [x, x, x, x, x, x, x, x, x]']
  .concat(['b', 'c', 'd', 'e', 'f', 'g', 'h'].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`))
  .join('\n');

const valid = `name: t
plugins:
  text: { path: ${textPlugin} }
input: { subject: in }
stages:
  - { name: upper, plugin: text, function: upper }
output: { subject: out }
`;

describe('hostile pipeline files', () => {
  it('refuse an alias bomb at the alias that blows it up', async () => {
    const [p, ...more] = await problems(laughs);
    expect(more).toEqual([]);
    expect(p!.message).toMatch(/alias/);
    expect(at(laughs, p!)).toBe('*');
  });

  it('refuse an alias to no anchor, or to the node that holds it, at the alias', async () => {
    const unknown = 'name: *nowhere\n';
    const [p] = await problems(unknown);
    expect(p).toMatchObject({ line: 1, column: 7, message: expect.stringMatching(/nowhere/) });
    const cycle = 'stages: &s [*s]\n';
    const [q] = await problems(cycle);
    expect(q).toMatchObject({ line: 1, column: 13 });
  });

  it('refuse nesting deeper than any pipeline needs, directly or through aliases', async () => {
    // 5000 is past what the library's composer survives: the check must come before it
    for (const depth of [500, 5000]) {
      const deep = `stages: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
      expect(await problems(deep)).toMatchObject([{ line: 1, column: 72, message: 'nested deeper than 64 levels' }]);
    }
    const chained = ['x0: &x0 [1]'].concat(Array.from({ length: 200 }, (_, i) => `x${i + 1}: &x${i + 1} [*x${i}]`)).join('\n');
    const [p] = await problems(chained);
    expect(at(chained, p!)).toBe('*');
  });

  it('refuse thousands of nested blocks, which overflow the parser itself when they close', async () => {
    const text = `plugins:\n${Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i + 2)}k${i}:`).join('\n')}\ninput: { subject: in }\n`;
    expect(await problems(text)).toMatchObject([{ message: 'nested deeper than 64 levels' }]);
  });

  it('survive nesting near the end of the stack, where the YAML library can abort the process', async () => {
    // In a plain script, the library's composer, recursing once per level, has V8 compile a regular
    // expression with the stack nearly full, which is fatal ("RegExpCompiler Allocation failed").
    // Where exactly depends on the stack, hence the sweep: it took the process down in 7 runs of 8.
    const script = join(await mkdtemp(join(tmpdir(), 'wasp-deep-')), 'deep.mjs');
    await writeFile(
      script,
      `const { parsePipelineConfig, ConfigError } = await import(process.argv[2]);
const nested = (d) => \`x0: &x0 \${'['.repeat(d)}\${']'.repeat(d)}\\nx1: &x1 \${'['.repeat(d)}*x0\${']'.repeat(d)}\\n\`;
for (let d = 1200; d <= 2400; d += 25) {
  try { await parsePipelineConfig(nested(d), 'deep.yaml', { env: {} }); } catch (e) { if (!(e instanceof ConfigError)) throw e; }
}
console.log('survived');
`,
    );
    const loader = pathToFileURL(`${root}dist/src/pipeline/config/load.js`).href;
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [script, loader], (_, stdout, stderr) => resolve({ stdout, stderr })),
    );
    expect(stdout, stderr.split('\n').find((l) => /FATAL|Error/.test(l))).toBe('survived\n');
  });

  it('refuse a << merge of anything but maps (YAML 1.1) where it stands', async () => {
    const text = '%YAML 1.1\n---\nbase: &b 5\n<<: *b\n';
    const [p, ...more] = await problems(text);
    expect(more).toEqual([]);
    expect(p).toMatchObject({ line: 4, column: 5, message: expect.stringMatching(/merge/) });
  });

  it('merge maps with << (YAML 1.1)', async () => {
    const text = `%YAML 1.1\n---\n${valid.replace('stages:\n  - { name: upper,', 'x: &stage { plugin: text, function: upper }\nstages:\n  - { <<: *stage, name: upper,')}`;
    const [p, ...more] = await problems(text);
    expect(more).toEqual([]);
    expect(p).toMatchObject({ path: 'x', message: 'unknown key' });
  });

  it('treat variables named like Object.prototype members as unset', async () => {
    const found = await problems(valid.replace('name: t', 'name: "${constructor}${__proto__}"'));
    expect(found.map((p) => p.message)).toEqual(
      expect.arrayContaining(['environment variable constructor is not set', 'environment variable __proto__ is not set']),
    );
  });

  it('find no plugin named like an Object.prototype member', async () => {
    const found = await problems(valid.replace('plugin: text', 'plugin: toString'));
    expect(found.map((p) => p.message)).toEqual(['no plugin named toString is declared under plugins']);
  });

  it('refuse a non-map document, binary garbage and odd tags with positions', async () => {
    for (const text of ['42', '- a\n- b\n', '\u0000\u00ff\u0001garbage\u0007', 'name: !!js/function "function () {}"\n', 'name: !!binary AAAA\n', 'name: 1e400\n']) {
      expect((await problems(text)).length).toBeGreaterThan(0);
    }
  });
});
