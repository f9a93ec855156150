// Hostile plugins against the engine: nothing a plugin does may hang, crash or exhaust the host.
import { describe, expect, it } from 'vitest';
import {
  CallLimitError,
  EMIT_INVALID_SUBJECT,
  Engine,
  MemoryLimitError,
  PluginTimeoutError,
  PluginTrapError,
  PluginUnavailableError,
  type PluginPool,
} from '../../src/index.js';
import { catchError } from '../helpers/errors.js';
import {
  allocSpinner,
  amplifier,
  chattyWasi,
  emitFlood,
  emitTo,
  errorThenTrap,
  freeTrapper,
  gatedStart,
  initSpinner,
  logger,
  memoryBomb,
  neverStarts,
  recurser,
  spinner,
  startSpinner,
} from '../helpers/hostile.js';
import { textPlugin } from '../helpers/pipelines.js';
import { wat } from '../helpers/plugins.js';

const text = (b: Uint8Array) => Buffer.from(b).toString();

async function engineWith(bytes: Uint8Array, options = {}, engineOptions = {}) {
  const engine = new Engine(engineOptions);
  await engine.registerPlugin('p', bytes, options);
  return engine;
}

describe('deadlines on inline instances', () => {
  it('stops a looping call with PluginTimeoutError, marks the instance, and is on by default', async () => {
    const engine = await engineWith(await spinner(), { timeoutMs: 150 });
    const inst = await engine.getInstance('p');
    expect(inst.callString('run', 'fine')).toBe('fine');
    const started = Date.now();
    const error = catchError(() => inst.callString('run', 'spin'));
    expect(error).toBeInstanceOf(PluginTimeoutError);
    expect(error).toMatchObject({ plugin: 'p', function: 'run', timeoutMs: 150 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(Date.now() - started).toBeLessThan(1000); // a 10x laxer deadline fails here
    expect(inst.needsReplacement).toBe(true);
    // the default deadline is there without asking for one
    expect(engine.plugin('p').timeoutMs).toBe(150);
    expect((await engineWith(await spinner())).plugin('p').timeoutMs).toBe(10_000);
    expect((await engineWith(await spinner(), {}, { timeoutMs: 300 })).plugin('p').timeoutMs).toBe(300);
  });

  it('stops infinite tail recursion (no loop anywhere) and loops in wasp_alloc', async () => {
    const rec = await (await engineWith(await recurser(), { timeoutMs: 100 })).getInstance('p');
    expect(rec.callString('run', 'fine')).toBe('fine');
    expect(catchError(() => rec.callString('run', 'recurse'))).toBeInstanceOf(PluginTimeoutError);
    const alloc = await (await engineWith(await allocSpinner(), { timeoutMs: 100 })).getInstance('p');
    expect(catchError(() => alloc.callString('run', 'x'))).toMatchObject({ name: 'PluginTimeoutError', function: 'run' });
  });

  it('stops a looping _initialize or start function at instantiation', async () => {
    const init = await engineWith(await initSpinner(), { timeoutMs: 100 });
    await expect(init.getInstance('p')).rejects.toMatchObject({ name: 'PluginTimeoutError', function: '_initialize' });
    const start = await engineWith(await startSpinner(), { timeoutMs: 100 });
    await expect(start.getInstance('p')).rejects.toThrow(PluginTimeoutError);
  });

  it('per instance: a deadline of its own, or none (the uninstrumented module)', async () => {
    const engine = await engineWith(await spinner(), { timeoutMs: 5000 });
    const short = await engine.getInstance('p', { timeoutMs: 50 });
    const started = Date.now();
    expect(catchError(() => short.callString('run', 'spin'))).toBeInstanceOf(PluginTimeoutError);
    expect(Date.now() - started).toBeLessThan(2000);
    const plain = await engine.getInstance('p', { timeoutMs: 0 });
    expect(plain.callString('run', 'fine')).toBe('fine');
    expect(engine.plugin('p').moduleFor(0)).not.toBe(engine.plugin('p').moduleFor(50));
  });

  it('keeps the results of the example plugins the same under the deadline', async () => {
    const engine = new Engine();
    await engine.registerPlugin('text', textPlugin);
    const timed = await engine.getInstance('text');
    const plain = await engine.getInstance('text', { timeoutMs: 0 });
    for (const input of ['hello', 'a few words here', 'x'.repeat(3000)]) {
      expect(timed.callString('burn', input)).toBe(plain.callString('burn', input));
      expect(timed.callOutputs('words', input).map(text)).toEqual(plain.callOutputs('words', input).map(text));
    }
  });
});

describe('default resource limits', () => {
  it('caps memory at 1,024 pages (64 MiB) without an explicit memoryLimitPages', async () => {
    const inst = await (await engineWith(await memoryBomb())).getInstance('p');
    const pages = new DataView(inst.callBytes('run', 'go')!.buffer).getUint32(0, true);
    expect(pages).toBe(1024);
    const raised = await (await engineWith(await memoryBomb(), { memoryLimitPages: 2048 })).getInstance('p');
    expect(new DataView(raised.callBytes('run', 'go')!.buffer).getUint32(0, true)).toBe(2048);
    await expect(new Engine().registerPlugin('p', await memoryBomb(), { memoryLimitPages: 70_000 })).rejects.toThrow(MemoryLimitError);
  });

  it('fails a call that hands the host more than its budget, without holding it all', async () => {
    const inst = await (await engineWith(await amplifier())).getInstance('p');
    const before = process.memoryUsage().arrayBuffers;
    const error = catchError(() => inst.callOutputs('run', 'go'));
    expect(error).toBeInstanceOf(CallLimitError);
    expect(error).toMatchObject({ limit: 'maxCallBytes', plugin: 'p', function: 'run' });
    // the default budget is 4 x maxOutputBytes (64 MiB): far from the 5 GiB asked for
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(256 << 20);
    const small = await (await engineWith(await amplifier(), { maxCallBytes: 3 << 20 })).getInstance('p');
    expect(catchError(() => small.callOutputs('run', 'go'))).toMatchObject({ name: 'CallLimitError', limit: 'maxCallBytes' });
  });

  it('fails a call that emits more side outputs than maxEmitsPerCall (default 1,024)', async () => {
    const engine = await engineWith(await emitFlood());
    const inst = await engine.getInstance('p', { onEmit: () => true });
    expect(inst.callOutputs('run', new Uint8Array([1])).length).toBe(1); // 1,000 emits
    expect(catchError(() => inst.callOutputs('run', new Uint8Array([2])))).toMatchObject({ name: 'CallLimitError', limit: 'maxEmitsPerCall' });
    const strict = await (await engineWith(await emitFlood(), { maxEmitsPerCall: 10 })).getInstance('p', { onEmit: () => true });
    expect(catchError(() => strict.callOutputs('run', new Uint8Array([1])))).toBeInstanceOf(CallLimitError);
  });

  it('forwards WASI stdout line by line to the logger and keeps nothing: flat memory over 200,000 calls', async () => {
    const lines: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    let count = 0;
    const engine = await engineWith(await chattyWasi(), {}, {
      logger: {
        debug: (message: string, fields?: Record<string, unknown>) => {
          if (fields?.stream === undefined) return;
          if (count++ < 3) lines.push({ message, fields });
        },
      },
    });
    const inst = await engine.getInstance('p');
    const data = new Uint8Array([1]);
    for (let i = 0; i < 10_000; i++) inst.callBytes('run', data);
    global.gc?.();
    const before = process.memoryUsage();
    for (let i = 0; i < 200_000; i++) inst.callBytes('run', data);
    global.gc?.();
    const after = process.memoryUsage();
    const grown = after.heapUsed + after.arrayBuffers + after.external - (before.heapUsed + before.arrayBuffers + before.external);
    expect(grown).toBeLessThan(40 << 20); // 200 MB if every line were kept
    expect(count).toBe(210_000);
    expect(lines[0]!.message).toBe(`${'x'.repeat(1024)}`);
    expect(lines[0]!.fields).toMatchObject({ plugin: 'p', stream: 'stdout' });
  });

  it('caps pool sizes', async () => {
    const engine = await engineWith(await spinner());
    expect(() => engine.createPool('p', { size: 100_000 })).toThrow(/at most/);
    expect(() => engine.createPool('p', { size: 300, mode: 'worker' })).toThrow(/at most/);
  });
});

describe('emit subjects', () => {
  it('refuses subjects that are not valid to publish to, before any handler sees them', async () => {
    const seen: string[] = [];
    const inst = await (await engineWith(await emitTo())).getInstance('p', { onEmit: (subject) => void seen.push(subject) });
    const code = (subject: string) => Number(inst.callString('run', subject)) - 5;
    for (const bad of ['a b', 'audit.*', 'audit.>', 'audit..x', '.audit', 'audit.', 'audit.\u0001x', 'audit\tx', '*', '>']) {
      expect([bad, code(bad)]).toEqual([bad, EMIT_INVALID_SUBJECT]);
    }
    expect(code('audit.x')).toBe(0);
    expect(seen).toEqual(['audit.x']);
    expect(inst.refusedEmits).toBe(10);
  });
});

describe('modules that try the loader', () => {
  it('refuses a wasp import named like an Object.prototype member, and a WASI module without memory, with typed errors', async () => {
    for (const name of ['toString', 'hasOwnProperty', '__proto__', 'constructor']) {
      const bytes = await wat(`(module (import "wasp" "${name}" (func)) (memory (export "memory") 1))`);
      await expect(new Engine().registerPlugin('p', bytes)).rejects.toMatchObject({ name: 'UnresolvedImportError', field: name });
    }
    const noMemory = await wat(`(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32))) (func (export "run")))`);
    await expect(new Engine().registerPlugin('p', noMemory)).rejects.toMatchObject({ name: 'PluginCompileError', message: expect.stringMatching(/exports no memory/) });
  });
});

describe('messages a plugin set survive its trap', () => {
  it('makes the wasp.error message the error message, with the trap as the cause', async () => {
    const inst = await (await engineWith(await errorThenTrap())).getInstance('p');
    const error = catchError(() => inst.callString('run', 'x'));
    expect(error).toBeInstanceOf(PluginTrapError);
    expect((error as PluginTrapError).message).toMatch(/index out of range in parse/);
    expect((error as PluginTrapError).pluginMessage).toBe('index out of range in parse');
    expect((error as Error).cause).toBeInstanceOf(WebAssembly.RuntimeError);
  });
});

describe.each(['inline', 'worker'] as const)('%s pool against hostile plugins', (mode) => {
  const pools: PluginPool[] = [];
  const make = (engine: Engine, options = {}) => {
    const pool = engine.createPool('p', { mode, size: 1, ...options });
    pools.push(pool);
    return pool;
  };
  const closeAll = () => Promise.all(pools.splice(0).map((p) => p.close()));

  it('stops a looping call at the deadline by default (timeoutMs from the plugin) and goes on', async () => {
    const pool = make(await engineWith(await spinner(), { timeoutMs: 150 }));
    await pool.ready();
    const results = await Promise.allSettled(['a', 'spin', 'b'].map((s) => pool.call('run', s)));
    expect(results.map((r) => (r.status === 'fulfilled' ? text(r.value.outputs[0]!) : (r.reason as Error).name))).toEqual(['a', 'PluginTimeoutError', 'b']);
    expect(pool.counters.replacedInstances).toBe(1);
    await closeAll();
  });

  it('fails start-up when the module can never instantiate, or loops while it does', async () => {
    const never = make(await engineWith(await neverStarts()));
    await expect(never.ready()).rejects.toThrow(PluginTrapError);
    const loops = make(await engineWith(await initSpinner(), { timeoutMs: 100 }));
    await expect(loops.ready()).rejects.toThrow(PluginTimeoutError);
    await closeAll();
  });

  it('refuses invalid and wildcard emit subjects, counts them, and never crashes', async () => {
    const pool = make(await engineWith(await emitTo()), { emits: ['audit.>'] });
    await pool.ready();
    const results = await Promise.all(['audit.*', 'audit.>', 'audit..x', 'a b', 'audit.ok', 'other.x'].map((s) => pool.call('run', s)));
    expect(results.map((r) => Number(text(r.outputs[0]!)) - 5)).toEqual([-4, -4, -4, -4, 0, -2]);
    expect(results.flatMap((r) => r.emits.map((e) => e.subject))).toEqual(['audit.ok']);
    expect(pool.counters.refusedEmits).toBe(5);
    await closeAll();
  });

  it('forwards plugin logs to the engine logger', async () => {
    const logged: [string, Record<string, unknown> | undefined][] = [];
    const pool = make(await engineWith(await logger(), {}, { logger: { info: (m: string, f?: Record<string, unknown>) => logged.push([m, f]) } }), {
      logFields: { stage: 's1' },
    });
    await pool.ready();
    await pool.call('run', 'hello from the plugin');
    expect(logged).toEqual([['hello from the plugin', expect.objectContaining({ plugin: 'p', function: 'run', stage: 's1' })]]);
    await closeAll();
  });

  it('replaces an instance whose wasp_free trapped, though its call succeeded', async () => {
    const pool = make(await engineWith(await freeTrapper()));
    await pool.ready();
    expect(text((await pool.call('run', 'one')).outputs[0]!)).toBe('one');
    expect(text((await pool.call('run', 'two')).outputs[0]!)).toBe('two');
    expect(pool.counters.replacedInstances).toBe(2);
    await closeAll();
  });

  it('takes headers larger than any ring', async () => {
    const pool = make(await engineWith(await logger()));
    await pool.ready();
    const big = 'h'.repeat(600 * 1024);
    const result = await pool.call('run', 'x', { subject: 'in.x', headers: [['X-Big', big], ['X-Small', 's']] });
    expect(text(result.outputs[0]!)).toBe('x');
    await closeAll();
  });

  it('retries a replacement that fails to instantiate with backoff, failing calls meanwhile, and never keeps the removed instance', async () => {
    let ready = 1;
    const engine = new Engine();
    engine.addCallback('host', 'ready', () => ready, { params: [], result: 'i32' });
    await engine.registerPlugin('p', await gatedStart());
    const pool = make(engine);
    await pool.ready();
    expect(text((await pool.call('run', 'a')).outputs[0]!)).toBe('a');
    ready = 0;
    await expect(pool.call('run', 'trap')).rejects.toThrow(PluginTrapError);
    const unavailable = await pool.call('run', 'b').catch((e: unknown) => e);
    expect(unavailable).toBeInstanceOf(PluginUnavailableError);
    expect((unavailable as Error).cause).toBeInstanceOf(PluginTrapError);
    ready = 1;
    const deadline = Date.now() + 10_000;
    let out: string | undefined;
    while (out === undefined && Date.now() < deadline) {
      out = await pool.call('run', 'c').then(
        (r) => text(r.outputs[0]!),
        () => undefined,
      );
      if (out === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    expect(out).toBe('c');
    await closeAll();
  });
});
