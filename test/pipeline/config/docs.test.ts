import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, renderConfigDocs } from '../../../src/pipeline/config/docs.js';
import { root } from '../../helpers/plugins.js';

describe('config docs', () => {
  it('docs/config.md and docs/pipeline.schema.json are generated from the schema (npm run docs:config)', async () => {
    expect(await readFile(`${root}docs/config.md`, 'utf8')).toBe(renderConfigDocs());
    expect(JSON.parse(await readFile(`${root}docs/pipeline.schema.json`, 'utf8'))).toEqual(configJsonSchema());
  });

  it('documents every key with its description', () => {
    const docs = renderConfigDocs();
    for (const key of ['name', 'nats.servers', 'plugins.<name>.sha256', 'input.consumer', 'input.maxAckPending', 'stages[].emits', 'stages[].pool.mode', 'output.stdout', 'deadLetter.subject']) {
      expect(docs).toMatch(new RegExp(`\\| \`${key.replace(/[.[\]<>]/g, '\\$&')}\` \\|[^\\n]*\\| [a-zA-Z(]`));
    }
  });
});
