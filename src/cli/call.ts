import { readFile } from 'node:fs/promises';
import { Engine, FunctionNotFoundError, SignatureError, type Arg, type Instance } from '../index.js';
import { STAGE_TYPES } from '../engine/abi/abi.js';
import { RESERVED_NAMESPACES } from '../engine/callbacks.js';
import { formatType } from '../engine/host-imports.js';
import { readModuleInfo, type ValType } from '../engine/wasm-binary.js';
import { checkNumbers, numberHint, parseCallArgs, type CallArgs } from './call-args.js';
import type { CommandIO } from './command.js';
import { showData } from './show.js';
import { Headers } from '../transport/headers.js';
import { stderrLogger } from './stderr-logger.js';

export { parseArg } from './call-args.js';

/**
 * `wasp call`: one call of one export, results on stdout; with --input, the call a pipeline stage
 * makes for one message. Plugin logs and side outputs go to stderr, so stdout holds only results.
 */
export async function callCommand(argv: string[], io: CommandIO): Promise<number> {
  const opts = parseCallArgs(argv);
  const bytes = new Uint8Array(
    await readFile(opts.module).catch((cause: Error) => {
      throw new Error(`cannot read ${opts.module}: ${cause.message}`, { cause });
    }),
  );
  const engine = new Engine({ logger: stderrLogger(io.stderr, opts.logLevel) });
  stubCallbacks(engine, bytes);
  const plugin = await engine.registerPlugin('module', bytes, { memoryLimitPages: opts.memoryPages, wasi: { env: opts.env }, abi: opts.abi });
  if (!plugin.hasFunction(opts.fn)) {
    const functions = plugin.exports.filter((e) => e.kind === 'function' && e.type !== undefined).map((e) => `  ${e.name} ${formatType(e.type!)}`);
    throw new FunctionNotFoundError(`${opts.module} exports no function ${opts.fn}; its functions:\n${functions.join('\n') || '  (none)'}`, { plugin: 'module', function: opts.fn });
  }
  checkNumbers(opts.fn, plugin.functionType(opts.fn), opts.args, opts.texts);
  const message = opts.input === undefined ? undefined : await readInput(opts.input, io.stdin);
  const inst = await engine.getInstance('module', {
    emits: opts.emits,
    onEmit: (subject, data) => {
      io.stderr.write(`emit ${subject}: ${showData(data)}\n`);
    },
  });
  try {
    inst.setMessage(opts.subject ?? (message !== undefined ? 'call' : null), opts.headers.length > 0 ? opts.headers.reduce((h, [k, v]) => h.append(k, v), new Headers()) : undefined);
    const results = message !== undefined ? stageCall(inst, opts, message) : functionCall(inst, opts);
    if (results === undefined) io.stderr.write(`(no output: ${opts.fn} gave none and returned 0, as a stage filtering the message; --returns number prints the value)\n`);
    else for (const r of results) io.stdout.write(typeof r === 'string' ? `${r}\n` : r);
    return 0;
  } catch (error) {
    if (error instanceof SignatureError && message === undefined) throw new SignatureError(`${error.message}${numberHint(opts.args, opts.texts)}`, { ...error, cause: error });
    throw error;
  } finally {
    inst.remove();
  }
}

/** What a stage does with one message: its outputs, one per line (or raw with --returns bytes). */
function stageCall(inst: Instance, opts: CallArgs, message: Uint8Array): (string | Uint8Array)[] | undefined {
  const abi = inst.plugin.abi;
  const type = formatType(inst.plugin.functionType(opts.fn));
  if (type !== STAGE_TYPES[abi]) throw new SignatureError(`${opts.fn} has type ${type}; a stage of a ${abi} plugin needs ${STAGE_TYPES[abi]}`, { plugin: 'module', function: opts.fn });
  const outputs = abi === 'wasp/1' ? inst.callOutputs(opts.fn, message) : [inst.callBytes(opts.fn, message)].filter((o): o is Uint8Array => o !== null);
  if (outputs.length === 0) return undefined;
  return outputs.map((o) => (opts.returns === 'bytes' ? Buffer.from(o).toString('hex') : Buffer.concat([o, Buffer.from('\n')])));
}

function functionCall(inst: Instance, opts: CallArgs): string[] | undefined {
  return inst.plugin.abi === 'wasp/1' ? callWasp(inst, opts) : [callPointer(inst, opts)];
}

/**
 * The other ABIs, unless --returns says otherwise: an Extism function's output as text; for
 * wasp-go, whose results come back by pointer, a string argument means a string result and
 * numbers alone a number.
 */
function callPointer(inst: Instance, { fn, args, returns }: CallArgs): string {
  const kind =
    returns !== 'auto' ? returns
    : inst.plugin.abi === 'extism' || args.some((a) => typeof a === 'string') ? 'string'
    : 'number';
  if (kind === 'string') return inst.callString(fn, ...args) ?? '';
  if (kind === 'bytes') return Buffer.from(inst.callBytes(fn, ...args) ?? new Uint8Array(0)).toString('hex');
  const value = inst.call(fn, ...args);
  return value === undefined ? '' : String(value);
}

function callWasp(inst: Instance, { fn, args, returns }: CallArgs): string[] | undefined {
  switch (returns) {
    case 'number':
      return [String(inst.call(fn, ...args))];
    case 'string':
      return inst.callOutputs(fn, ...args).map((o) => Buffer.from(o).toString('utf8'));
    case 'bytes':
      return inst.callOutputs(fn, ...args).map((o) => Buffer.from(o).toString('hex'));
    case 'auto': {
      const { value, outputs, errorMessage } = inst.callRaw(fn, ...args);
      // An output, or a message set with wasp.error, means the return value is a status.
      if ((outputs.length > 0 || errorMessage !== null) && value !== 0) {
        throw new Error(`${fn} failed with status ${String(value)}${errorMessage === null ? '' : `: ${errorMessage}`}`);
      }
      if (outputs.length > 0) return outputs.map((o) => Buffer.from(o).toString('utf8'));
      // a message in, nothing out and 0 back: a stage that filtered it, not the number 0
      if (value === 0 && isMessageCall(inst, fn, args)) return undefined;
      return value === undefined ? [] : [String(value)];
    }
  }
}

function isMessageCall(inst: Instance, fn: string, args: readonly Arg[]): boolean {
  return args.length === 1 && typeof args[0] !== 'number' && typeof args[0] !== 'bigint' && formatType(inst.plugin.functionType(fn)) === STAGE_TYPES['wasp/1'];
}

/** A file's bytes, or standard input's for `-`, unchanged (binary-safe). */
async function readInput(input: string, stdin: NodeJS.ReadableStream): Promise<Uint8Array> {
  if (input !== '-') {
    return new Uint8Array(
      await readFile(input).catch((cause: Error) => {
        throw new Error(`cannot read --input ${input}: ${cause.message}`, { cause });
      }),
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * The command line has no host functions to offer. Callback imports get a
 * stand-in so that a module can still be called; only a call that reaches one
 * fails, naming it.
 */
function stubCallbacks(engine: Engine, bytes: Uint8Array): void {
  let imports;
  try {
    imports = readModuleInfo(bytes).imports;
  } catch {
    return; // registerPlugin reports a malformed module properly
  }
  for (const imp of imports) {
    if (imp.kind !== 'function' || RESERVED_NAMESPACES.has(imp.module) || imp.type === undefined) continue;
    const numeric = (t: ValType): t is 'i32' | 'i64' | 'f32' | 'f64' => t === 'i32' || t === 'i64' || t === 'f32' || t === 'f64';
    if (!imp.type.params.every(numeric) || !imp.type.results.every(numeric) || imp.type.results.length > 1) continue;
    engine.addCallback(
      imp.module,
      imp.name,
      () => {
        throw new Error(`the plugin called ${imp.module}.${imp.name}, a host callback that wasp call does not provide`);
      },
      { params: imp.type.params as ('i32' | 'i64' | 'f32' | 'f64')[], result: imp.type.results[0] as 'i32' | undefined },
    );
  }
}
