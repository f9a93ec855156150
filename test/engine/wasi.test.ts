// WASI: each instance sees only the env, args and in-memory files configured for it.
import { describe, expect, it } from 'vitest';
import { Engine, PluginCallError, WasiSetupError } from '../../src/index.js';
import { catchError } from '../helpers/errors.js';
import { kits } from '../helpers/plugins.js';

describe.each(kits.filter((k) => k.wasi))('WASI for the $language example plugin', (kit) => {
  async function engineWith(wasi: object) {
    const engine = new Engine();
    engine.addCallback('plugin', 'call_me', (s: string) => s, { params: ['string'], result: 'string' });
    await engine.registerPlugin('p', kit.path, { wasi });
    return engine;
  }

  it('sees the configured env and files and nothing of the host', async () => {
    process.env.WASP_HOST_SECRET = 'host only';
    const engine = await engineWith({ env: { GREETING: 'hi' }, files: { '/etc/app/config.json': '{"a":1}', '/bin.dat': new Uint8Array([0, 1, 255]) } });
    const inst = await engine.getInstance('p');
    expect(inst.callString('env', 'GREETING')).toBe('hi');
    expect(inst.callString('env', 'WASP_HOST_SECRET')).toBeNull();
    expect(inst.callString('env', 'PATH')).toBeNull();
    expect(inst.callString('cat', '/etc/app/config.json')).toBe('{"a":1}');
    expect(inst.callBytes('cat', '/bin.dat')).toEqual(new Uint8Array([0, 1, 255]));
    const error = catchError(() => inst.callString('cat', '/etc/passwd'));
    expect(error).toBeInstanceOf(PluginCallError);
    expect((error as PluginCallError).pluginMessage).toBe('cannot open /etc/passwd');
  });

  it('gives each instance its own world, overridable per instance', async () => {
    const engine = await engineWith({ env: { WHO: 'default' } });
    const a = await engine.getInstance('p');
    const b = await engine.getInstance('p', { wasi: { env: { WHO: 'b' }, files: { '/only-b': 'b' } } });
    expect(a.callString('env', 'WHO')).toBe('default');
    expect(b.callString('env', 'WHO')).toBe('b');
    expect(b.callString('cat', '/only-b')).toBe('b');
    expect(() => a.callString('cat', '/only-b')).toThrow(/cannot open/);
  });

  it('refuses a relative file path in the WASI config', async () => {
    const engine = await engineWith({ files: { 'relative.txt': 'x' } });
    await expect(engine.getInstance('p')).rejects.toThrow(WasiSetupError);
  });
});
