// npm run docs:config: regenerates docs/config.md and docs/pipeline.schema.json from the schema.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { configJsonSchema, renderConfigDocs } from './docs.js';

const docs = fileURLToPath(new URL('../../../../docs/', import.meta.url));
await writeFile(`${docs}config.md`, renderConfigDocs());
await writeFile(`${docs}pipeline.schema.json`, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log('wrote docs/config.md and docs/pipeline.schema.json');
