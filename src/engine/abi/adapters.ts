// The adapter of a plugin's ABI, for its instance: none for wasp/1, whose calls are Instance's own.
import type { Plugin } from '../plugin.js';
import type { AbiAdapter, AbiPort } from './abi.js';
import { ExtismCalls } from './extism/extism.js';
import { WaspGoCalls } from './wasp-go.js';

export function createAdapter(plugin: Plugin, port: AbiPort): AbiAdapter | undefined {
  const functionType = (name: string) => plugin.functionType(name);
  switch (plugin.abi) {
    case 'wasp-go':
      return new WaspGoCalls(port, functionType);
    case 'extism':
      return new ExtismCalls(port, functionType, plugin.config ?? {}, plugin.limits.memoryLimitPages);
    default:
      return undefined;
  }
}
