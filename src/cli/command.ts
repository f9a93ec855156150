/** Where a command writes; the process's streams in real use, buffers in tests. */
export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

/** A `wasp` subcommand: parses its own arguments and returns the exit code. */
export type Command = (argv: string[], io: CommandIO) => Promise<number>;
