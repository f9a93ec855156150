// What a pipeline file may mean without being wrong: warnings `wasp validate` prints (and fails
// on with --strict) and `wasp run` logs at start, each pointing at the key it is about.
import { patternsOverlap } from '../../engine/subjects.js';
import type { PipelineConfig } from './schema.js';
import type { Path } from './yaml.js';

/** What a warning is about, for a command that knows better about one (deploy: workers bring NATS). */
export type WarningKind = 'unreachable-input' | 'loop' | 'no-effect';

export interface Warning {
  kind: WarningKind;
  path: Path;
  message: string;
}

/**
 * Loops (an output, side output or dead letter the input receives again), an input nothing can
 * reach, and keys that change nothing. `raw` is the file as written, before defaults, to tell a
 * key that was set from one the schema filled in.
 */
export function lintPipeline(config: PipelineConfig, raw: unknown): Warning[] {
  const warnings: Warning[] = [];
  const warn = (kind: WarningKind, path: Path, message: string): void => {
    warnings.push({ kind, path, message });
  };
  const input = config.input;
  const listens = input.kind === 'stdin' ? undefined : input.subject;
  if (input.kind === 'subject' && config.nats === undefined) {
    warn('unreachable-input', ['input', 'subject'], `without nats: the input is the embedded bus, which nothing outside this process publishes to: wasp run would wait for ${input.subject} forever (add nats:, or use input: { stdin: true })`);
  }
  if (listens !== undefined) {
    const loop = (path: Path, what: string, subject: string): void => {
      if (patternsOverlap(listens, subject)) warn('loop', path, `${what} ${subject} overlaps what the input (${listens}) receives: what is sent there comes back as input, an endless loop`);
    };
    if (config.output.kind === 'subject') loop(['output', 'subject'], 'the output subject', config.output.subject);
    if (config.deadLetter?.subject !== undefined) loop(['deadLetter', 'subject'], 'the dead-letter subject', config.deadLetter.subject);
    config.stages.forEach((stage, i) => stage.emits.forEach((pattern, j) => loop(['stages', i, 'emits', j], 'the side-output pattern', pattern)));
  }

  const file = (raw ?? {}) as { plugins?: Record<string, { timeoutMs?: unknown }>; stages?: { ordered?: unknown }[] };
  config.stages.forEach((stage, i) => {
    if (stage.pool.mode === 'inline' && file.stages?.[i]?.ordered === false) {
      warn('no-effect', ['stages', i, 'ordered'], 'ordered: false has no effect on an inline pool, whose calls finish in input order anyway; it matters in worker mode');
    }
  });
  for (const [name, plugin] of Object.entries(config.plugins)) {
    const users = config.stages.filter((s) => s.plugin === name);
    if (users.length === 0) warn('no-effect', ['plugins', name], `no stage uses plugin ${name}: it is compiled for nothing`);
    else if (file.plugins?.[name]?.timeoutMs !== undefined && users.every((s) => s.timeoutMs !== undefined)) {
      warn('no-effect', ['plugins', name, 'timeoutMs'], `timeoutMs ${plugin.timeoutMs} has no effect: every stage of plugin ${name} sets its own`);
    }
  }
  return warnings;
}
