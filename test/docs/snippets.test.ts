// Docs that run: every fenced block in README.md and docs/ is checked here, or says why not.
// - ts/js: run as written against the built package (imports of 'wasp-streams' resolve to this
//   checkout), from the repository's root;
// - yaml: a pipeline file is loaded with every check (its paths relative to pipelines/text/), a
//   `tests:` block checked against the test-case schema;
// - a block after `<!-- check: output -->`: each command runs (npx wasp is this checkout's CLI)
//   and must print the `# ...` lines that follow it, exactly;
// - a block after `<!-- not run: why -->` is not run, and must say why.
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePipelineFile } from '../../src/pipeline/config/load.js';
import { testFileSchema } from '../../src/pipeline/config/schema.js';
import { waspBin } from '../helpers/cli.js';
import { root } from '../helpers/plugins.js';

const exec = promisify(execFile);

interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
  marker: string | undefined;
}

async function blocks(): Promise<Block[]> {
  const files = ['README.md', ...(await readdir(join(root, 'docs'), { recursive: true })).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
  const out: Block[] = [];
  for (const file of files) {
    const lines = (await readFile(join(root, file), 'utf8')).split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(\w+)/.exec(lines[i]!);
      if (!open) continue;
      const end = lines.indexOf('```', i + 1);
      let before = i - 1;
      while (before >= 0 && lines[before]!.trim() === '') before--;
      const marker = /^<!-- (.*) -->$/.exec(lines[before] ?? '')?.[1];
      out.push({ file, line: i + 1, lang: open[1]!, code: lines.slice(i + 1, end).join('\n'), marker });
      i = end;
    }
  }
  return out;
}

const all = await blocks();
const scratch = join(root, '.snippets');
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('docs that run', () => {
  it('finds the blocks, and each is run, checked, or says why not', () => {
    expect(all.length).toBeGreaterThan(15);
    for (const b of all) {
      const runnable = b.lang === 'ts' || b.lang === 'js' || b.lang === 'yaml' || b.marker === 'check: output';
      if (!runnable) expect(b.marker, `${b.file}:${b.line} (${b.lang}) is not run: mark it <!-- not run: why --> or make it runnable`).toMatch(/^not run: \S.{10,}/);
    }
  });

  for (const b of all.filter((b) => (b.lang === 'ts' || b.lang === 'js') && b.marker === undefined)) {
    it(`${b.file}:${b.line} runs as written`, { timeout: 60_000 }, async () => {
      const js = ts.transpileModule(b.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      await mkdir(scratch, { recursive: true });
      const file = join(scratch, `${b.file.replace(/\W/g, '_')}_${b.line}.mjs`);
      await writeFile(file, js);
      const { stderr } = await exec(process.execPath, [file], { cwd: root });
      expect(stderr).not.toMatch(/Error/);
    });
  }

  for (const b of all.filter((b) => b.lang === 'yaml' && b.marker === undefined)) {
    it(`${b.file}:${b.line} is a valid ${/^tests:/m.test(b.code) && !/^name:/m.test(b.code) ? 'test-case list' : 'pipeline'}`, async () => {
      if (/^name:/m.test(b.code)) {
        const loaded = await parsePipelineFile(b.code, join(root, 'pipelines/text', 'snippet.yaml'), { env: {} });
        expect(loaded.config.stages.length).toBeGreaterThan(0);
      } else {
        expect(testFileSchema.safeParse(parse(b.code)).success).toBe(true);
      }
    });
  }

  for (const b of all.filter((b) => b.marker === 'check: output')) {
    it(`${b.file}:${b.line}: each command prints what the block says`, { timeout: 60_000 }, async () => {
      const lines = b.code.split('\n');
      let checked = 0;
      for (let i = 0; i < lines.length; i++) {
        const command = lines[i]!.replace(/\s+#.*$/, '');
        if (command.trim() === '' || command.startsWith('#')) continue;
        const expected: string[] = [];
        while (lines[i + 1]?.startsWith('# ')) expected.push(lines[++i]!.slice(2));
        const shell = command.replace(/\bnpx wasp\b/g, `'${process.execPath}' '${waspBin}'`);
        const { stdout } = await exec('bash', ['-c', shell], { cwd: root });
        expect(stdout, `${relative(root, join(root, b.file))}: ${command}`).toBe(expected.map((e) => `${e}\n`).join(''));
        checked++;
      }
      expect(checked).toBeGreaterThan(0);
    });
  }
});
