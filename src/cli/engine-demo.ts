// npm start: the example plugin of every kit, called through the engine.
import { fileURLToPath } from 'node:url';
import { Engine, WaspError } from '../index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const kits = [
  ['AssemblyScript', 'plugins/assemblyscript/examples.wasm'],
  ['C', 'plugins/c/examples.wasm'],
  ['Rust', 'plugins/rust/examples.wasm'],
] as const;

const engine = new Engine({ logger: { info: (message, fields) => console.log(`    [${String(fields?.plugin)} log] ${message}`) } });
engine.addCallback('plugin', 'call_me', (name: string) => `Hello ${name}`, { params: ['string'], result: 'string' });

for (const [language, path] of kits) {
  const plugin = await engine.registerPlugin(language, `${root}${path}`, { memoryLimitPages: 64 });
  const inst = await engine.getInstance(language, {
    onEmit: (subject, data) => console.log(`    side output to ${subject}: ${Buffer.from(data).toString()}`),
  });
  console.log(`\n${language} (${plugin.exports.length} exports, sha256 ${plugin.sha256.slice(0, 12)}…)`);
  console.log(`  sum(3, 2)              = ${inst.call('sum', 3, 2)}`);
  console.log(`  hello("Nic")           = ${inst.callString('hello', 'Nic')}`);
  console.log(`  reverse([1, 2, 3])     = [${inst.callBytes('reverse', new Uint8Array([1, 2, 3]))?.join(', ')}]`);
  console.log(`  callback()             = ${inst.callString('callback')}`);
  console.log(`  upper("wasp 🐝")        = ${inst.callString('upper', 'wasp 🐝')}`);
  console.log(`  words("a flat map")    = ${JSON.stringify(inst.callOutputs('words', 'a flat map').map((b) => Buffer.from(b).toString()))}`);
  console.log(`  json_tag('{"id":7}')   = ${inst.callString('json_tag', '{"id":7}')}`);
  console.log(`  audit("checked")       = ${inst.callString('audit', 'checked')}`);
  inst.callString('shout', `${language} says hi through wasp.log`);
  try {
    inst.callString('json_tag', 'not json');
  } catch (error) {
    if (!(error instanceof WaspError)) throw error;
    console.log(`  json_tag("not json")   -> ${error.name}: ${error.message}`);
  }
  const reverse = inst.func('reverse', { params: ['bytes'], result: 'bytes' });
  const data = new Uint8Array(20);
  const calls = 200_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) reverse(data);
  const ns = Number(process.hrtime.bigint() - start) / calls;
  console.log(`  ${calls.toLocaleString('en')} reverse calls of 20 bytes: ${ns.toFixed(0)} ns per call`);
}
console.log('\nnpm run bench measures these against direct calls and a hand-written reference.');
