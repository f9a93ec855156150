import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Language } from './templates.js';

/** The package's plugins/ folder: the kits ship with it (package.json "files"). */
export const KITS_DIR = fileURLToPath(new URL('../../../../plugins/', import.meta.url));

/** The kit files a new project of a language gets, by path in plugins/ and path in the project. */
const KIT_FILES: Record<Language, [string, string][]> = {
  c: [['c/wasp.h', 'wasp.h']],
  rust: [['rust/wasp', 'wasp']],
  as: [['assemblyscript/wasp.ts', 'wasp.ts']],
  wat: [],
};

/** Copies a language's kit into a project, so the project builds on its own. */
export async function copyKit(lang: Language, dir: string): Promise<string[]> {
  const copied: string[] = [];
  for (const [from, to] of KIT_FILES[lang]) {
    await cp(join(KITS_DIR, from), join(dir, to), { recursive: true, filter: (src) => !src.includes(`${join('rust', 'wasp', 'target')}`) });
    copied.push(to);
  }
  return copied;
}
