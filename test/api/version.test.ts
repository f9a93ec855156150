import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';
import { root } from '../helpers/plugins.js';

it('the version workers report is package.json\'s', async () => {
  expect(VERSION).toBe((JSON.parse(await readFile(`${root}package.json`, 'utf8')) as { version: string }).version);
});
