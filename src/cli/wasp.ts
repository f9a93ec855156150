#!/usr/bin/env node
import { buildCommand } from './build.js';
import { callCommand } from './call.js';
import { deployCommand, undeployCommand } from './deploy.js';
import { statusCommand } from './fleet-status.js';
import { inspectCommand } from './inspect.js';
import { lsCommand } from './ls.js';
import { newCommand } from './new.js';
import { runCommand } from './run.js';
import { testCommand } from './test.js';
import { workerCommand } from './worker.js';
import { validateCommand } from './validate.js';
import type { Command, CommandIO } from './command.js';
import { commandHelp, overview, synopsis } from './help.js';
import { UsageError } from './usage.js';
import { VERSION } from '../version.js';

const commands: Record<string, Command> = {
  build: buildCommand,
  call: callCommand,
  deploy: deployCommand,
  inspect: inspectCommand,
  ls: lsCommand,
  new: newCommand,
  run: runCommand,
  status: statusCommand,
  test: testCommand,
  undeploy: undeployCommand,
  validate: validateCommand,
  worker: workerCommand,
};

async function main(argv: string[], io: CommandIO): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    io.stderr.write(`${overview()}\n`);
    return 2;
  }
  if (command === '--help' || command === '-h' || (command === 'help' && rest.length === 0)) {
    io.stdout.write(`${overview()}\n`);
    return 0;
  }
  if (command === '--version' || command === '-V' || command === 'version') {
    io.stdout.write(`wasp ${VERSION} (wasp-streams, Node ${process.versions.node})\n`);
    return 0;
  }
  const asked = command === 'help' ? rest[0]! : command;
  const run = commands[asked];
  if (run === undefined) {
    io.stderr.write(`error: unknown command ${asked}\n${overview()}\n`);
    return 2;
  }
  // `--help` anywhere before a `--` (after it, it is an argument)
  const own = rest.indexOf('--') === -1 ? rest : rest.slice(0, rest.indexOf('--'));
  if (command === 'help' || own.includes('--help') || own.includes('-h')) {
    io.stdout.write(`${commandHelp(asked)}\n`);
    return 0;
  }
  try {
    return await run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`error: ${error.message}\n${synopsis(command)}\n`);
      return 2;
    }
    io.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
