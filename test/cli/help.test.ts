import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { HELP } from '../../src/cli/help.js';
import { wasp } from '../helpers/cli.js';
import { root } from '../helpers/plugins.js';

describe('wasp help, --help and --version', () => {
  it('with no arguments: the commands on stderr, exit 2; with --help or help: on stdout, exit 0', async () => {
    const bare = await wasp([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    for (const name of Object.keys(HELP)) expect(bare.stderr).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    for (const args of [['--help'], ['-h'], ['help']]) {
      const asked = await wasp(args);
      expect(asked.code).toBe(0);
      expect(asked.stdout).toBe(bare.stderr);
    }
  });

  it('--version says the package version', async () => {
    const { version } = JSON.parse(await readFile(`${root}package.json`, 'utf8')) as { version: string };
    for (const flag of ['--version', '-V', 'version']) {
      const result = await wasp([flag]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^wasp ${version.replace(/\./g, '\\.')} \\(wasp-streams`));
    }
  });

  it('each command has its own page: usage, options, exit codes, an example; help CMD and CMD --help print the same', async () => {
    const pages = new Set<string>();
    for (const name of Object.keys(HELP)) {
      const viaHelp = await wasp(['help', name]);
      const viaFlag = await wasp([name, '--help']);
      expect(viaHelp.code).toBe(0);
      expect(viaFlag.stdout).toBe(viaHelp.stdout);
      const page = viaHelp.stdout;
      expect(page).toMatch(new RegExp(`^usage: wasp ${name}\\b`));
      expect(page).toMatch(/\nexit codes:\n {2}0 {2}.+\n/);
      expect(page).toMatch(/\n {2}2 {2}a usage mistake\n/);
      expect(page).toMatch(new RegExp(`\\nexample:\\n {2}wasp ${name}\\b`));
      pages.add(page);
    }
    expect(pages.size).toBe(Object.keys(HELP).length);
  });

  it('a usage mistake prints the command\'s synopsis; an unknown command or help topic the list, exit 2', async () => {
    const mistake = await wasp(['run']);
    expect(mistake.code).toBe(2);
    expect(mistake.stderr).toBe('error: wasp run needs a config file\nusage: wasp run <pipeline.yaml> [--tap] [--log-level LEVEL] [--log-format text|json] [--http HOST:PORT]\n(wasp help run for more)\n');
    for (const args of [['frobnicate'], ['help', 'frobnicate']]) {
      const unknown = await wasp(args);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/^error: unknown command frobnicate\nusage: wasp <command>/);
    }
  });

  it('after --, --help is an argument of the call, not a request for help', async () => {
    const result = await wasp(['call', `${root}plugins/assemblyscript/examples.wasm`, 'reverse', '--', '--help']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('pleh--\n');
  });
});
