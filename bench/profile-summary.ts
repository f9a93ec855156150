// Self time of a V8 CPU profile (node --cpu-prof) by module, then by
// function: node dist/bench/profile-summary.js FILE.cpuprofile [TOP]
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

function moduleOf(node: Node): string {
  const { url, functionName } = node.callFrame;
  if (url.includes('@nats-io')) return 'nats.js';
  if (url.includes('/src/')) return `wasp ${url.split('/src/')[1]!.split('/')[0]}`;
  if (url.includes('rxjs')) return 'rxjs';
  if (url.startsWith('wasm')) return 'Wasm code';
  if (functionName.startsWith('(')) return functionName;
  if (url === '') return 'V8 builtins';
  return url.startsWith('node:') ? 'Node.js' : 'other';
}

const [file, top = '20'] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: profile-summary FILE.cpuprofile [TOP]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const byModule = new Map<string, number>();
const byFunction = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const node = nodes.get(id)!;
  const us = profile.timeDeltas[i] ?? 0;
  const module = moduleOf(node);
  if (module === '(idle)') return;
  total += us;
  byModule.set(module, (byModule.get(module) ?? 0) + us);
  const name = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').pop()}:${node.callFrame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
});
const share = (us: number) => `${((us / total) * 100).toFixed(1)}%`;
console.log(`busy ${(total / 1000).toFixed(0)} ms; by module:`);
for (const [name, us] of [...byModule].sort((a, b) => b[1] - a[1])) console.log(`  ${share(us).padStart(6)}  ${name}`);
console.log('by function:');
for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) console.log(`  ${share(us).padStart(6)}  ${name}`);
