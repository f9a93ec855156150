import { z } from 'zod';
import { pipelineFileSchema } from './schema.js';

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  additionalProperties?: JsonSchema | boolean;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  minLength?: number;
  minItems?: number;
  exclusiveMinimum?: number;
};

/** JSON Schema of the config file, for editors (docs/pipeline.schema.json). */
export function configJsonSchema(): Record<string, unknown> {
  return { ...z.toJSONSchema(pipelineFileSchema, { io: 'input', unrepresentable: 'any' }), title: 'Wasp pipeline' };
}

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  if (s.type === 'array') return `list of ${typeOf(s.items ?? {})}${s.minItems ? ` (at least ${s.minItems})` : ''}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') return `map of ${typeOf(s.additionalProperties)}`;
  if (s.type === 'integer') {
    const range = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? ` ${s.minimum ?? ''}..${s.maximum}` : s.minimum !== undefined ? ` >= ${s.minimum}` : '';
    return `integer${range}`;
  }
  if (s.type === 'string' && s.pattern !== undefined) return `string matching \`${s.pattern}\``;
  if (s.type === 'string' && s.minLength !== undefined) return 'string, not empty';
  return Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? 'any');
}

/** Every key, depth first: path, type, required, default, description. */
function rows(schema: JsonSchema, prefix: string, out: string[]): void {
  const required = new Set(schema.required ?? []);
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    const def = prop.default === undefined ? '' : `\`${JSON.stringify(prop.default)}\``;
    out.push(`| \`${path}\` | ${typeOf(prop).replace(/\|/g, '\\|')} | ${required.has(key) ? 'yes' : ''} | ${def} | ${prop.description ?? ''} |`);
    const nested = prop.anyOf?.find((s) => s.type === 'object' && s.properties) ?? prop;
    if (nested.type === 'object' && nested.properties) rows(nested, path, out);
    if (nested.type === 'object' && nested.additionalProperties && typeof nested.additionalProperties === 'object' && nested.additionalProperties.properties) {
      rows(nested.additionalProperties, `${path}.<name>`, out);
    }
    if (nested.type === 'array' && nested.items?.properties) rows(nested.items, `${path}[]`, out);
  }
}

/** docs/config.md, generated from the schema so it says what the code checks. */
export function renderConfigDocs(): string {
  const out: string[] = [];
  rows(configJsonSchema() as JsonSchema, '', out);
  return `# Pipeline config

<!-- Generated from src/pipeline/config/schema.ts by \`npm run docs:config\`; edit the schema, not this file. -->

A pipeline is a YAML (or JSON) file; \`wasp validate\` checks it and \`wasp run\`
runs it (see [pipelines.md](pipelines.md)). Unknown keys are errors. Any
string value may use \`\${NAME}\` (an environment variable), \`\${NAME:-default}\`,
and \`$$\` for a literal \`$\`. Paths are relative to the config file. Editors
can validate against [pipeline.schema.json](pipeline.schema.json).

Beyond the schema, \`wasp validate\` and \`wasp run\` check that stage names are
unique, that each stage names a declared plugin, that files exist, that each
plugin compiles (and matches its \`sha256\`), that it imports only \`wasp\` host
functions and WASI (pipelines provide no host callbacks), and that each stage's
function is exported with Wasm type \`(i32, i32) -> i32\`.

| key | type | required | default | description |
| --- | --- | --- | --- | --- |
${out.join('\n')}

## Example

\`\`\`yaml
name: text
nats:
  servers: \${NATS_URL:-nats://127.0.0.1:4222}
plugins:
  text: { path: ./text.wasm, memoryLimitPages: 16 }
input:
  stream: TEXT
  consumer: upper
  subject: text.in
stages:
  - name: upper
    plugin: text
    function: upper
    pool: 2
  - name: audit
    plugin: text
    function: audit
    emits: [audit.>]
output:
  subject: text.out
deadLetter:
  subject: text.dlq
\`\`\`
`;
}
