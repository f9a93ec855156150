/** Where a failure happened; every field is optional because some errors precede a plugin or a call. */
export interface ErrorContext {
  plugin?: string;
  function?: string;
  cause?: unknown;
}

/** The base of every error Wasp raises: catch this to catch them all. */
export class WaspError extends Error {
  override name = 'WaspError';
  readonly plugin: string | undefined;
  readonly function: string | undefined;

  constructor(message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.plugin = context.plugin;
    this.function = context.function;
  }
}

/** The bytes are not a valid WebAssembly module, or the runtime refused to compile them. */
export class PluginCompileError extends WaspError {
  override name = 'PluginCompileError';
}

/** The module could not be read from its path or URL. */
export class PluginLoadError extends WaspError {
  override name = 'PluginLoadError';
}

/** The module's SHA-256 differs from the pinned one. */
export class PluginHashMismatchError extends WaspError {
  override name = 'PluginHashMismatchError';
  constructor(
    readonly expected: string,
    readonly actual: string,
    context: ErrorContext,
  ) {
    super(`plugin ${context.plugin}: sha256 is ${actual}, expected ${expected}`, context);
  }
}

/** The module asks for more memory than its memoryLimitPages allows, or the limit itself is invalid. */
export class MemoryLimitError extends WaspError {
  override name = 'MemoryLimitError';
}

/** What is wrong with an import: not a function, no such host function, no callback for it, or the wrong type. */
export type UnresolvedImportProblem = 'not-a-function' | 'unknown-host-function' | 'no-callback' | 'wrong-type';

/** A plugin import that nothing satisfies: no callback, no host function of its ABI, no WASI. */
export class UnresolvedImportError extends WaspError {
  override name = 'UnresolvedImportError';
  constructor(
    readonly module: string,
    readonly field: string,
    readonly reason: string,
    context: ErrorContext,
    readonly problem: UnresolvedImportProblem = 'wrong-type',
  ) {
    super(`plugin ${context.plugin}: import ${module}.${field} ${reason}`, context);
  }
}

/** No plugin is registered under that name (or one already is, for a second registration). */
export class PluginNotFoundError extends WaspError {
  override name = 'PluginNotFoundError';
}

export class PluginExistsError extends WaspError {
  override name = 'PluginExistsError';
}

/** A callback was declared badly: reserved namespace, unknown type, a second one under the same name. */
export class CallbackDefinitionError extends WaspError {
  override name = 'CallbackDefinitionError';
}

/** The plugin does not export a function of that name. */
export class FunctionNotFoundError extends WaspError {
  override name = 'FunctionNotFoundError';
}

/** The arguments or the expected result do not fit the export's Wasm signature. */
export class SignatureError extends WaspError {
  override name = 'SignatureError';
}

/**
 * The plugin trapped: unreachable, an out-of-bounds access, a stack overflow...
 * When the plugin set a message with wasp.error before trapping (an abort
 * handler does), that message is `pluginMessage` and leads the error's message.
 */
export class PluginTrapError extends WaspError {
  override name = 'PluginTrapError';
  readonly pluginMessage: string | null;
  constructor(message: string, context: ErrorContext & { pluginMessage?: string | null } = {}) {
    super(message, context);
    this.pluginMessage = context.pluginMessage ?? null;
  }
}

/** A call or an instantiation ran past its deadline (`timeoutMs`) and was stopped. */
export class PluginTimeoutError extends WaspError {
  override name = 'PluginTimeoutError';
  readonly timeoutMs: number | undefined;
  constructor(message: string, context: ErrorContext & { timeoutMs?: number } = {}) {
    super(message, context);
    this.timeoutMs = context.timeoutMs;
  }
}

/** One call handed the host more than a per-call limit allows: bytes in all (maxCallBytes) or side outputs (maxEmitsPerCall). */
export class CallLimitError extends WaspError {
  override name = 'CallLimitError';
  constructor(
    message: string,
    readonly limit: 'maxCallBytes' | 'maxEmitsPerCall' | 'maxVarBytes',
    readonly max: number,
    context: ErrorContext,
  ) {
    super(message, context);
  }
}

/** No instance of the plugin could be made (a replacement failed to instantiate); the pool retries with backoff. */
export class PluginUnavailableError extends WaspError {
  override name = 'PluginUnavailableError';
}

/** An engine or pool option out of its range (a pool size past the cap, a negative deadline). */
export class InvalidOptionError extends WaspError {
  override name = 'InvalidOptionError';
  constructor(
    readonly option: string,
    message: string,
    context: ErrorContext = {},
  ) {
    super(message, context);
  }
}

/** A host callback threw while the plugin was calling it. */
export class CallbackError extends WaspError {
  override name = 'CallbackError';
  constructor(
    readonly callback: string,
    context: ErrorContext,
  ) {
    super(`plugin ${context.plugin}: callback ${callback} failed during ${context.function}: ${describe(context.cause)}`, context);
  }
}

/** The plugin returned a non-zero status; `message` carries what it set with wasp.error. */
export class PluginCallError extends WaspError {
  override name = 'PluginCallError';
  constructor(
    readonly status: number,
    readonly pluginMessage: string | null,
    context: ErrorContext,
  ) {
    super(
      `plugin ${context.plugin}: ${context.function} failed with status ${status}` +
        (pluginMessage === null ? '' : `: ${pluginMessage}`),
      context,
    );
  }
}

/** The plugin handed the host a pointer and length outside its memory. */
export class MemoryAccessError extends WaspError {
  override name = 'MemoryAccessError';
}

/** An output exceeded the plugin's maxOutputBytes. */
export class OutputLimitError extends WaspError {
  override name = 'OutputLimitError';
}

/** wasp_alloc returned 0 or a block outside memory, or the plugin has no allocator at all. */
export class AllocationError extends WaspError {
  override name = 'AllocationError';
}

/** callString/callBytes got several outputs where one was expected. */
export class UnexpectedOutputsError extends WaspError {
  override name = 'UnexpectedOutputsError';
}

/** The instance was removed, or is already inside a call (a callback calling back into it). */
export class InstanceStateError extends WaspError {
  override name = 'InstanceStateError';
}

/** WASI could not be set up for an instance (a bad file path, say). */
export class WasiSetupError extends WaspError {
  override name = 'WasiSetupError';
}

/** A thrown value as a WaspError: itself when it is one, else wrapped with it as the cause. */
export function asWaspError(error: unknown): WaspError {
  return error instanceof WaspError ? error : new WaspError(String(error), { cause: error });
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A wasp-go plugin called env.raise_error during the call: the call fails with the plugin's message. */
export class PluginRaisedError extends WaspError {
  override name = 'PluginRaisedError';
  constructor(
    readonly pluginMessage: string,
    context: ErrorContext,
  ) {
    super(`plugin ${context.plugin}: ${context.function} raised an error: ${pluginMessage}`, context);
  }
}

/** The plugin called a host function its ABI names but Wasp does not offer (Extism's http_request, say): the call fails. */
export class HostFunctionRefusedError extends WaspError {
  override name = 'HostFunctionRefusedError';
  constructor(
    message: string,
    readonly module: string,
    readonly field: string,
    context: ErrorContext,
  ) {
    super(message, context);
  }
}

/** The module does not fit the ABI it was registered with or detected as (it lacks an export the ABI needs, say). */
export class AbiError extends WaspError {
  override name = 'AbiError';
}
