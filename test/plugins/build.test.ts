// The committed .wasm files are what their sources build to.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM build driver without type declarations
import { languages, loadKit } from '../../plugins/build.mjs';

interface Kit {
  name: string;
  output: string;
  outputPath: string;
  missing(): Promise<string | null>;
  build(outFile: string): Promise<void>;
}

const kits: Kit[] = await Promise.all((languages as string[]).map((l) => loadKit(l) as Promise<Kit>));
const missing = new Map(await Promise.all(kits.map(async (k) => [k.name, await k.missing()] as const)));

describe('committed plugin modules', () => {
  for (const kit of kits) {
    const reason = missing.get(kit.name);
    // Without the toolchain nothing can be compared; CI installs every toolchain, so there it must not be missing.
    const title = reason ? `${kit.output} (not checked here: ${reason})` : `${kit.output} is what its source builds to`;
    it.skipIf(reason !== null && !process.env.CI)(title, { timeout: 300_000 }, async () => {
      expect(reason, `toolchain for ${kit.name}`).toBeNull();
      const dir = await mkdtemp(join(tmpdir(), `wasp-build-${kit.name}-`));
      try {
        const fresh = join(dir, 'out.wasm');
        await kit.build(fresh);
        const [built, committed] = await Promise.all([readFile(fresh), readFile(kit.outputPath)]);
        expect(built.equals(committed), `${kit.output} differs from a fresh build: run npm run build:plugins and commit`).toBe(true);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
