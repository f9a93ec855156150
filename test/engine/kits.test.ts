// Every ABI wasp/1 rule, checked against the example plugin of every language kit.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Engine,
  type Instance,
  MemoryAccessError,
  OutputLimitError,
  PluginCallError,
  PluginTrapError,
  SignatureError,
  UnexpectedOutputsError,
} from '../../src/index.js';
import { catchError } from '../helpers/errors.js';
import { kits, watExample } from '../helpers/plugins.js';

const PAGE = 65536;
const utf8 = new TextEncoder();

describe.each(kits)('$language example plugin', (kit) => {
  let engine: Engine;
  let inst: Instance;
  const emitted: [string, string][] = [];
  const logged: [string, string][] = [];

  beforeAll(async () => {
    const log = (level: string) => (message: string) => logged.push([level, message]);
    engine = new Engine({ logger: { info: log('info'), debug: log('debug'), warn: log('warn') } });
    engine.addCallback('plugin', 'call_me', (name: string) => `Hello ${name}`, { params: ['string'], result: 'string' });
    await engine.registerPlugin(kit.language, kit.path, { memoryLimitPages: 64 });
    inst = await engine.getInstance(kit.language, {
      onEmit: (subject, data) => {
        emitted.push([subject, Buffer.from(data).toString()]);
        return subject !== 'audit.refused';
      },
    });
  });

  it('lists its exports with their Wasm signatures', () => {
    const plugin = engine.plugin(kit.language);
    const byName = new Map(plugin.exports.map((e) => [e.name, e]));
    expect(byName.get('sum')?.type).toEqual({ params: ['i32', 'i32'], results: ['i32'] });
    expect(byName.get('hello')?.type).toEqual({ params: ['i32', 'i32'], results: ['i32'] });
    expect(byName.get('memory')?.kind).toBe('memory');
    expect(byName.has('wasp_alloc') && byName.has('wasp_free')).toBe(true);
    expect(plugin.usesWasi).toBe(kit.wasi);
    expect(plugin.imports.filter((i) => i.module === 'plugin').map((i) => i.name)).toEqual(['call_me']);
  });

  it('calls numeric exports typed by their signature', () => {
    expect(inst.call('sum', 3, 2)).toBe(5);
    expect(inst.call('sum', -7, 2)).toBe(-5);
    expect(inst.call('sum', 2147483647, 1)).toBe(-2147483648);
    expect(inst.call('add_i64', 9007199254740993n, 1n)).toBe(9007199254740994n);
    expect(inst.call('add_i64', 9223372036854775807n, 1n)).toBe(-9223372036854775808n);
    expect(inst.call('add_i64', -9223372036854775808n, -1n)).toBe(9223372036854775807n);
    expect(inst.call('add_i64', 5, 6)).toBe(11n);
    expect(inst.call('mul_f64', 1.5, -2.25)).toBe(-3.375);
    expect(inst.call('mul_f64', Number.MAX_VALUE, 2)).toBe(Infinity);
    expect(inst.call('half_f32', 3)).toBe(1.5);
    expect(inst.call('half_f32', 0.1)).toBe(Math.fround(Math.fround(0.1) / 2));
  });

  it('refuses arguments that do not fit the signature', () => {
    expect(() => inst.call('sum', 1)).toThrow(SignatureError);
    expect(() => inst.call('sum', 'a', 1)).toThrow(SignatureError);
    expect(() => inst.call('add_i64', 1.5, 1)).toThrow(SignatureError);
    expect(() => inst.callString('mul_f64', 1, 2)).toThrow(/needs an i32 status/);
    // (i32, i32) -> i32 is a valid string call: the plugin's own return is read as the status.
    expect(catchError(() => inst.callString('sum', 1, 2))).toMatchObject({ name: 'PluginCallError', status: 3 });
    expect(() => inst.callString('add_i64', 1n, 2n)).toThrow(SignatureError);
  });

  it('passes strings in and out as UTF-8', () => {
    expect(inst.callString('hello', 'Nic')).toBe('Hello Nic');
    expect(inst.callString('hello', 'Zoë 日本 🐝')).toBe('Hello Zoë 日本 🐝');
    expect(inst.callString('hello', '')).toBe('Hello ');
    const long = 'ü'.repeat(100_000);
    expect(inst.callString('hello', long)).toBe(`Hello ${long}`);
  });

  it('passes bytes in and out', () => {
    expect(inst.callBytes('reverse', new Uint8Array([1, 2, 3]))).toEqual(new Uint8Array([3, 2, 1]));
    expect(inst.callBytes('reverse', new Uint8Array(0))).toEqual(new Uint8Array(0));
    const mib = new Uint8Array(1 << 20);
    for (let i = 0; i < mib.length; i++) mib[i] = (i * 31) & 0xff;
    const out = inst.callBytes('reverse', mib)!;
    expect(out.length).toBe(mib.length);
    expect(out[0]).toBe(mib[mib.length - 1]);
    expect(Buffer.from(out).equals(Buffer.from(mib).reverse())).toBe(true);
  });

  it('returns an output that does not alias plugin memory', () => {
    const a = inst.callBytes('reverse', new Uint8Array([1, 2]))!;
    inst.callBytes('reverse', new Uint8Array([9, 9]));
    expect(a).toEqual(new Uint8Array([2, 1]));
    const kib = new Uint8Array(1024).fill(1);
    const b = inst.callBytes('reverse', kib)!;
    inst.callBytes('reverse', new Uint8Array(1024).fill(2));
    expect(b).toEqual(kib);
  });

  it('maps, filters and flat-maps through outputs', () => {
    expect(inst.callString('upper', 'abc xyz 1é')).toBe('ABC XYZ 1é');
    expect(inst.callString('upper', '')).toBeNull();
    expect(inst.callOutputs('upper', '')).toEqual([]);
    expect(inst.callOutputs('words', ' one  two three ').map((b) => Buffer.from(b).toString())).toEqual(['one', 'two', 'three']);
    expect(() => inst.callString('words', 'a b')).toThrow(UnexpectedOutputsError);
    expect(inst.callString('words', 'single')).toBe('single');
  });

  it('transforms JSON and reports a bad input through wasp.error', () => {
    expect(inst.callString('json_tag', '{"a":1}')).toBe('{"bytes":7,"a":1}');
    expect(inst.callString('json_tag', '{}')).toBe('{"bytes":2}');
    const error = catchError(() => inst.callString('json_tag', '[1,2]'));
    expect(error).toBeInstanceOf(PluginCallError);
    expect(error).toMatchObject({ status: 1, pluginMessage: 'not a JSON object', plugin: kit.language, function: 'json_tag' });
  });

  it('fails a call with a non-zero status and the plugin message', () => {
    const error = catchError(() => inst.callBytes('fail', 'boom'));
    expect(error).toBeInstanceOf(PluginCallError);
    expect(error).toMatchObject({ status: 1, pluginMessage: 'failed: boom' });
    expect((error as Error).message).toContain('failed: boom');
    expect(inst.needsReplacement).toBe(false);
    expect(inst.callString('hello', 'again')).toBe('Hello again');
  });

  it('calls host callbacks with strings in and out', () => {
    expect(inst.callString('callback')).toBe('Hello Nic');
  });

  it('hands side outputs to the emitter and reports refusals to the plugin', () => {
    emitted.length = 0;
    expect(inst.callString('audit', 'payload ✓')).toBe('payload ✓');
    expect(emitted).toEqual([[kit.subject, 'payload ✓']]);
  });

  it('refuses emits when the instance has no emitter', async () => {
    const bare = await engine.getInstance(kit.language);
    const error = catchError(() => bare.callString('audit', 'x'));
    expect(error).toMatchObject({ name: 'PluginCallError', pluginMessage: 'emit refused: -1' });
    bare.remove();
  });

  it('reads the current message subject and headers', () => {
    expect(inst.callString('tag', 'x')).toBe('-;-;x');
    try {
      inst.setMessage('orders.eu', new Map([['X-Tag', 'blue']]));
      expect(inst.callString('tag', 'x')).toBe('orders.eu;blue;x');
      expect(inst.callString('tag', '')).toBe('orders.eu;blue;');
      // Longer than the plugin's 16-byte first buffer, in bytes but not in characters: the plugin retries with the returned length.
      const subject = `orders.${'é'.repeat(20)}.${'日'.repeat(10)}.🐝`; // 40 code points, 83 bytes
      const tagValue = 'ü'.repeat(9); // 9 characters, 18 bytes
      inst.setMessage(subject, new Map([['X-Tag', tagValue]]));
      expect(inst.callString('tag', 'ünï')).toBe(`${subject};${tagValue};ünï`);
      // Exactly 16 bytes fits the first buffer.
      inst.setMessage('a'.repeat(16), new Map([['X-Tag', 'b'.repeat(16)]]));
      expect(inst.callString('tag', 'x')).toBe(`${'a'.repeat(16)};${'b'.repeat(16)};x`);
      // Absent header, header names matched case-sensitively, no headers at all, an empty value.
      inst.setMessage('orders.eu', new Map([['Other', 'red']]));
      expect(inst.callString('tag', 'x')).toBe('orders.eu;-;x');
      inst.setMessage('orders.eu', new Map([['x-tag', 'red']]));
      expect(inst.callString('tag', 'x')).toBe('orders.eu;-;x');
      inst.setMessage('orders.eu');
      expect(inst.callString('tag', 'x')).toBe('orders.eu;-;x');
      inst.setMessage('orders.eu', new Map([['X-Tag', '']]));
      expect(inst.callString('tag', 'x')).toBe('orders.eu;;x');
      inst.setMessage(null);
      expect(inst.callString('tag', 'x')).toBe('-;-;x');
      expect(inst.needsReplacement).toBe(false);
    } finally {
      inst.setMessage(null);
    }
  });

  it('sends wasp.log to the host logger', () => {
    logged.length = 0;
    expect(inst.callString('shout', 'hear me')).toBeNull();
    expect(logged).toContainEqual(['info', 'hear me']);
  });

  it('turns a trap into PluginTrapError and marks the instance for replacement', async () => {
    const victim = await engine.getInstance(kit.language);
    const error = catchError(() => victim.callString('trap'));
    expect(error).toBeInstanceOf(PluginTrapError);
    expect(error).toMatchObject({ plugin: kit.language, function: 'trap' });
    expect((error as Error).cause).toBeInstanceOf(WebAssembly.RuntimeError);
    expect(victim.needsReplacement).toBe(true);
    victim.remove();
  });

  it('refuses an output outside memory without unwinding the plugin', () => {
    const error = catchError(() => inst.callBytes('bad_output'));
    expect(error).toBeInstanceOf(MemoryAccessError);
    expect((error as Error).message).toMatch(/wasp\.output gave 1024 bytes at 4294967040/);
    expect(inst.needsReplacement).toBe(false);
    expect(inst.call('sum', 1, 1)).toBe(2);
  });

  it('enforces memoryLimitPages inside the plugin', () => {
    const pages = inst.memoryBytes / PAGE;
    expect(pages).toBeLessThanOrEqual(64);
    expect(inst.call('grow', 64 - pages + 1)).toBe(-1);
    expect(inst.call('grow', 1)).toBe(pages);
    expect(inst.memoryBytes).toBe((pages + 1) * PAGE);
    expect(inst.callString('hello', 'after growth')).toBe('Hello after growth');
  });

  it('refuses an output larger than maxOutputBytes', async () => {
    const name = `${kit.language}-small`;
    await engine.registerPlugin(name, kit.path, { maxOutputBytes: 16 });
    const small = await engine.getInstance(name);
    expect(small.callString('hello', '0123456789')).toBe('Hello 0123456789');
    const error = catchError(() => small.callString('hello', '0123456789A'));
    expect(error).toBeInstanceOf(OutputLimitError);
    expect(small.callString('hello', 'still ok')).toBe('Hello still ok');
  });

  it('offers typed handles checked once against the signature', () => {
    const reverse = inst.func('reverse', { params: ['bytes'], result: 'bytes' });
    expect(reverse(utf8.encode('abc'))).toEqual(utf8.encode('cba'));
    const sum = inst.func('sum', { params: ['i32', 'i32'], result: 'number' });
    expect(sum(20, 22)).toBe(42);
    const words = inst.func('words', { params: ['string'], result: 'outputs' });
    expect(words('a b').length).toBe(2);
    expect(() => inst.func('sum', { params: ['i64', 'i32'], result: 'number' })).toThrow(SignatureError);
    expect(() => inst.func('add_i64', { params: ['i64', 'i64'], result: 'string' })).toThrow(SignatureError);
    expect(() => inst.func('hello', { params: ['i32'], result: 'string' })).toThrow(SignatureError);
  });

  it('leaves no input block unfreed after 100,000 calls', () => {
    const data = new Uint8Array(1024).fill(7);
    const before = inst.memoryBytes;
    for (let i = 0; i < 100_000; i++) inst.callBytes('reverse', data);
    for (let i = 0; i < 1_000; i++) inst.callString('hello', 'x'.repeat(1000));
    // 100,000 leaked KiB blocks would need over 1,500 pages; the cap is 64.
    expect(inst.memoryBytes).toBe(before);
    expect(inst.callBytes('reverse', data)).toEqual(data);
  });
});


describe('hand-written WAT example', () => {
  it('follows the ABI with no kit in between', async () => {
    const engine = new Engine();
    await engine.registerPlugin('wat', watExample);
    const inst = await engine.getInstance('wat');
    expect(inst.call('sum', 3, 2)).toBe(5);
    expect(inst.call('add_i64', 1n << 62n, 1n << 62n)).toBe(-(1n << 63n));
    expect(inst.call('mul_f64', 3, 0.5)).toBe(1.5);
    expect(inst.call('half_f32', 5)).toBe(2.5);
    expect(inst.callString('hello', 'Wasp 🐝')).toBe('Hello Wasp 🐝');
    expect(inst.callBytes('reverse', new Uint8Array([1, 2, 3, 4]))).toEqual(new Uint8Array([4, 3, 2, 1]));
    const before = inst.memoryBytes;
    const kib = new Uint8Array(1024);
    for (let i = 0; i < 100_000; i++) inst.callBytes('reverse', kib);
    expect(inst.memoryBytes).toBe(before);
  });
});
