#!/usr/bin/env node
import { callCommand } from './call.js';
import { USAGE, UsageError } from './usage.js';

const commands: Record<string, (argv: string[]) => Promise<string>> = {
  call: callCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const run = commands[command];
  try {
    if (run === undefined) throw new UsageError(`unknown command ${command}`);
    if (rest.includes('--help')) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    process.stdout.write(`${await run(rest)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
