#!/usr/bin/env node
import { callCommand } from './call.js';
import { deployCommand, undeployCommand } from './deploy.js';
import { statusCommand } from './fleet-status.js';
import { lsCommand } from './ls.js';
import { runCommand } from './run.js';
import { testCommand } from './test.js';
import { workerCommand } from './worker.js';
import { validateCommand } from './validate.js';
import type { Command, CommandIO } from './command.js';
import { USAGE, UsageError } from './usage.js';

const commands: Record<string, Command> = {
  call: callCommand,
  deploy: deployCommand,
  ls: lsCommand,
  run: runCommand,
  status: statusCommand,
  test: testCommand,
  undeploy: undeployCommand,
  validate: validateCommand,
  worker: workerCommand,
};

async function main(argv: string[], io: CommandIO): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const run = commands[command];
  try {
    if (run === undefined) throw new UsageError(`unknown command ${command}`);
    if (rest.includes('--help')) {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    return await run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`error: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    io.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
