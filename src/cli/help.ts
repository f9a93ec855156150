// What `wasp help`, `wasp CMD --help` and a usage mistake print: a page per command with every
// flag, its exit codes and a worked example, and a short list of the commands.

export interface CommandHelp {
  /** one line for the list of commands */
  summary: string;
  /** the synopsis lines, without the leading `wasp ` */
  usage: string[];
  /** what it does, as a paragraph or two */
  description: string;
  /** [flag, what it does] */
  options?: [string, string][];
  exitCodes: [number, string][];
  example: string;
}

const CONNECTION: [string, string][] = [
  ['--nats URL', 'the server(s), comma-separated (default $WASP_NATS_URL, else nats://127.0.0.1:4222)'],
  ['--creds FILE', 'a .creds file (or $WASP_NATS_CREDS)'],
  ['--tls-ca FILE', 'the CA of the server\'s certificate (or $WASP_NATS_TLS_CA)'],
  ['--tls-cert FILE, --tls-key FILE', 'a client certificate and its key (or $WASP_NATS_TLS_CERT, $WASP_NATS_TLS_KEY)'],
  ['--tls-first', 'start with the TLS handshake (a server with handshake_first)'],
];
const SECRETS = ' User and password or a token come from $WASP_NATS_USER and $WASP_NATS_PASSWORD, or $WASP_NATS_TOKEN, never from the command line.';
const LOGGING: [string, string][] = [
  ['--log-level LEVEL', 'trace, debug, info (default), warn or error'],
  ['--log-format FORMAT', 'text (default) or json: one object per line, with pipeline and stage fields'],
  ['--http HOST:PORT', 'serve /metrics (Prometheus), /healthz and /readyz; off by default'],
];
const FLEET_EXIT: [number, string][] = [
  [0, 'done'],
  [1, 'refused by NATS or the fleet (the reason on stderr), or no server answered in 5 s'],
  [2, 'a usage mistake'],
];

export const HELP: Record<string, CommandHelp> = {
  new: {
    summary: 'start a plugin project (C, Rust, AssemblyScript, WAT) or a pipeline file',
    usage: ['new plugin NAME --lang c|rust|as|wat', 'new pipeline NAME [--plugin FILE] [--function NAME]'],
    description:
      'new plugin writes ./NAME: the language\'s kit (wasp.h, the wasp crate, wasp.ts), an example stage function (upper), wasp-plugin.json for wasp build, a pipeline.yaml (stdin to stdout) with test cases, and a README. Nothing is written into a folder that is not empty. new pipeline writes NAME.yaml with every key explained and a test case.',
    options: [
      ['--lang LANG', 'the plugin\'s language: c, rust, as (AssemblyScript) or wat'],
      ['--plugin FILE', 'new pipeline: the module its plugin is (default ./plugin.wasm)'],
      ['--function NAME', 'new pipeline: the stage\'s function (default upper)'],
    ],
    exitCodes: [
      [0, 'written'],
      [1, 'the folder or file exists (nothing written)'],
      [2, 'a usage mistake'],
    ],
    example: 'wasp new plugin hello --lang c && cd hello && npx wasp build && npx wasp test .',
  },
  build: {
    summary: 'build a plugin project made by wasp new plugin',
    usage: ['build [DIR]'],
    description:
      'Builds the project in DIR (default .) as its wasp-plugin.json says: C with clang for wasm32-wasi (-O2, a reactor, stripped), Rust with Debian\'s cargo and rustc for wasm32-wasi (release), AssemblyScript with asc (-O3, the incremental runtime), WAT with wabt. Then registers the module as a pipeline would and prints its size, ABI, SHA-256 and functions. A missing toolchain is named with how to install it.',
    exitCodes: [
      [0, 'built'],
      [1, 'no project here, a toolchain is missing (how to install it on stderr), or the build failed (the compiler\'s message on stderr)'],
      [2, 'a usage mistake'],
    ],
    example: 'wasp build hello',
  },
  call: {
    summary: 'call one export of a module, as a test of a plugin',
    usage: ['call <module.wasm> <function> [ARG ...] [options]', 'call <module.wasm> <function> --input FILE|- [--subject S] [--header K=V ...] [options]'],
    description:
      'Registers the module, makes one instance and calls the function once. Each ARG is parsed as JSON: a JSON number is a numeric argument (integers beyond 2^53 stay exact), a JSON string a string argument; anything else is passed as a string of its own text. To pass text that looks like a number, quote it as JSON: \'"42"\'. Put -- before arguments that start with --. Without --returns the outputs are printed as UTF-8 text, one per line, when the plugin gave any; otherwise the function\'s numeric return value, except for a message in and nothing out with 0 back, which is a stage filtering the message (said on stderr). A number a parameter cannot hold (out of range, or a fraction for an integer) is a usage mistake, and a function the module does not export is answered with the list of those it does. The ABI is detected from the module; for wasp-go, a string argument means a string result, numbers alone a number. Callback imports get stand-ins that fail the call only if it reaches one.',
    options: [
      ['--input FILE|-', 'call the function as a pipeline stage does, with a file\'s bytes (or stdin\'s, for -) as the message'],
      ['--subject S', 'the message\'s subject, as wasp.subject answers it (default with --input: call)'],
      ['--header K=V', 'a message header, as wasp.header answers it (repeatable)'],
      ['--emits PATTERN', 'a subject pattern side outputs may go to (repeatable; default: any); each side output is printed on stderr as emit SUBJECT: DATA'],
      ['--log-level LEVEL', 'the plugin\'s log lines on stderr from this level: trace, debug, info (default), warn, error'],
      ['--returns string|bytes|number', 'how to print the result (bytes: hex)'],
      ['--env KEY=VALUE', 'an environment variable the plugin sees (repeatable)'],
      ['--memory-pages N', 'cap on linear memory, in 64 KiB pages'],
      ['--abi wasp/1|wasp-go|extism', 'the plugin\'s ABI, when detection is not wanted'],
    ],
    exitCodes: [
      [0, 'the call succeeded'],
      [1, 'the module cannot be loaded, or the call failed (trap, error status, deadline): the reason on stderr'],
      [2, 'a usage mistake'],
    ],
    example: 'wasp call plugins/c/examples.wasm hello Nic          # Hello Nic',
  },
  inspect: {
    summary: 'what a module is: ABI, exports and how to call each, imports and what answers them',
    usage: ['inspect <module.wasm> [--abi wasp/1|wasp-go|extism]'],
    description:
      'Reads a module without running any of it and prints its size and SHA-256 (for a pipeline\'s sha256: pin), the ABI it was built for (detected, as the engine detects it, unless --abi says), its memory and the cap registration puts on it, each export with its Wasm type and what it can be called as (a stage, numbers, used by the ABI itself), and each import with what answers it (the host, WASI, a host callback an embedding program must add, or nothing: refused, with the reason).',
    options: [['--abi ABI', 'read it as built for this ABI']],
    exitCodes: [
      [0, 'read; every import can be answered'],
      [1, 'the file cannot be read or is not a module, or an import is refused (registration would fail)'],
      [2, 'a usage mistake'],
    ],
    example: 'wasp inspect plugins/c/examples.wasm',
  },
  run: {
    summary: 'run a pipeline until SIGINT/SIGTERM (or the end of stdin), then drain',
    usage: ['run <pipeline.yaml> [--tap] [--log-level LEVEL] [--log-format text|json] [--http HOST:PORT]'],
    description:
      'Loads and checks the file as wasp validate does, connects to NATS when it has a nats: key (waiting for a server as long as it takes), and runs the pipeline. SIGINT or SIGTERM drains it: no new input, everything in flight settled, then exit; a second signal stops at once (exit 128 + the signal number). A status line on stderr shows the counts; the exit summary says what happened to every input.',
    options: [['--tap', 'also write every side output and dead letter on stderr: emit SUBJECT: DATA {headers}, dead SUBJECT: DATA {headers}'], ...LOGGING],
    exitCodes: [
      [0, 'drained after a signal, or the end of stdin'],
      [1, 'the file has problems, the connection was refused, or the pipeline could not start (the reason on stderr)'],
      [2, 'a usage mistake'],
    ],
    example: 'wasp run pipelines/text/stdin.yaml < pipelines/text/sample.txt',
  },
  validate: {
    summary: 'check pipeline files (and their test cases) without running them',
    usage: ['validate <pipeline.yaml>... [--strict]'],
    description:
      'Reports every problem of every file as file:line:column: key: message, without touching NATS: the schema, references between keys, files on disk, each plugin compiled and each stage function\'s type. A pipeline\'s test cases (its tests: list, NAME.test.yaml beside it) are checked with it. Warnings, on stderr, point at what may not mean what it says: an output, dead-letter or side-output subject the input receives again (a loop), a subject input on the embedded bus (nothing outside the process reaches it), keys that change nothing (ordered: false inline, a plugin no stage uses, a timeoutMs every stage overrides).',
    options: [['--strict', 'a file with warnings fails too']],
    exitCodes: [
      [0, 'every file is fine (warnings allowed without --strict)'],
      [1, 'a file has problems (or, with --strict, warnings)'],
      [2, 'a usage mistake'],
    ],
    example: 'wasp validate pipelines/text/*.yaml',
  },
  test: {
    summary: 'run the test cases written beside pipelines, in process',
    usage: ['test <pipeline.yaml | dir>... [--timeout MS]'],
    description:
      'Loads each pipeline as wasp run does and runs its test cases (its tests: list, or NAME.test.yaml beside it) in process, whatever its nats: says: each case\'s messages go in, and its outputs, side outputs and dead letters are compared with what the case expects. Prints each case, and a diff for a failing one. A directory is searched for pipelines that have cases.',
    options: [['--timeout MS', 'how long one case may take before it fails (default 30000)']],
    exitCodes: [
      [0, 'every case passed'],
      [1, 'a case failed, a file has problems, or nothing was found to test'],
      [2, 'a usage mistake'],
    ],
    example: 'wasp test pipelines',
  },
  deploy: {
    summary: 'store a pipeline and its modules in NATS as its next revision',
    usage: ['deploy <pipeline.yaml> [--wait] [--timeout MS] [connection options]', 'deploy --rollback NAME [--to REVISION] [--wait] [connection options]'],
    description: `Validates the file as wasp validate does, stores each module in the wasp-modules object store by SHA-256 (an unchanged one is not uploaded again) and the pipeline in the wasp-pipelines KV bucket as its next revision. Workers running the pipeline take it over live. --rollback makes an earlier revision (the previous one, or --to REVISION) the next one.${SECRETS}`,
    options: [['--wait', 'return once every worker running the pipeline runs the new revision'], ['--timeout MS', 'how long --wait waits (default 60000)'], ...CONNECTION],
    exitCodes: FLEET_EXIT,
    example: 'wasp deploy pipelines/text/jetstream.yaml --wait',
  },
  undeploy: {
    summary: 'remove a deployed pipeline; workers drain and stop it',
    usage: ['undeploy NAME [--wait] [connection options]'],
    description: `Deletes the pipeline from the wasp-pipelines bucket (its revisions are kept, and a later deploy continues their numbering). Workers drain it and stop.${SECRETS}`,
    options: [['--wait', 'return once no worker runs it'], ['--timeout MS', 'how long --wait waits (default 60000)'], ...CONNECTION],
    exitCodes: FLEET_EXIT,
    example: 'wasp undeploy text-jetstream',
  },
  ls: {
    summary: 'list deployed pipelines: revision, plugins and digests, workers',
    usage: ['ls [connection options]'],
    description: `One line per deployed pipeline: its revision, when it was deployed, its plugins with their digests, and the workers running it (asked through the NATS services protocol).${SECRETS}`,
    options: CONNECTION,
    exitCodes: FLEET_EXIT,
    example: 'wasp ls --nats nats://nats.internal:4222',
  },
  status: {
    summary: 'what the workers report, per pipeline: revision, workers, rates, failures',
    usage: ['status [connection options]'],
    description: `Asks every worker for its stats (the NATS services protocol, as nats micro stats does) and gathers them per pipeline: revision, workers, messages in and out, failures, dead letters, lag.${SECRETS}`,
    options: CONNECTION,
    exitCodes: FLEET_EXIT,
    example: 'wasp status',
  },
  worker: {
    summary: 'run every deployed pipeline matching a pattern, taking new revisions live',
    usage: ['worker [--pipelines PATTERN] [--log-level LEVEL] [--log-format text|json] [--http HOST:PORT] [connection options]'],
    description: `Runs every deployed pipeline whose name matches PATTERN (* matches anything; default all), starting one when it is deployed, taking a new revision without losing a message, and draining one that is undeployed. Several workers share each pipeline's input through its durable consumer or queue group. Answers the NATS services protocol as service "wasp". Waits for NATS as long as it takes; SIGINT/SIGTERM drains everything and exits 0.${SECRETS}`,
    options: [['--pipelines PATTERN', 'the pipelines to run (default *)'], ...LOGGING, ...CONNECTION],
    exitCodes: [
      [0, 'drained after a signal'],
      [1, 'refused by NATS (the reason on stderr)'],
      [2, 'a usage mistake'],
    ],
    example: 'wasp worker --nats nats://nats.internal:4222 --http :9090',
  },
};

const NAME_WIDTH = Math.max(...Object.keys(HELP).map((n) => n.length));

/** The list of commands, for `wasp`, `wasp help` and `wasp --help`. */
export function overview(): string {
  const lines = Object.entries(HELP).map(([name, h]) => `  ${name.padEnd(NAME_WIDTH)}  ${h.summary}`);
  return `usage: wasp <command> [arguments]

commands:
${lines.join('\n')}

  wasp help <command>, or wasp <command> --help: its flags, exit codes and an example
  wasp --version: the version`;
}

/** One command's page. */
export function commandHelp(name: string): string {
  const h = HELP[name]!;
  const width = Math.max(0, ...(h.options ?? []).map(([flag]) => flag.length));
  const out = [`usage: ${h.usage.map((u) => `wasp ${u}`).join('\n       ')}`, '', wrap(h.description, 2)];
  if (h.options && h.options.length > 0) out.push('', 'options:', ...h.options.map(([flag, what]) => `  ${flag.padEnd(width)}  ${what}`));
  out.push('', 'exit codes:', ...h.exitCodes.map(([code, what]) => `  ${code}  ${what}`), '', 'example:', `  ${h.example}`);
  return out.join('\n');
}

/** The synopsis of one command, for a usage mistake. */
export function synopsis(name: string): string {
  const h = HELP[name];
  return h === undefined ? overview() : `usage: ${h.usage.map((u) => `wasp ${u}`).join('\n       ')}\n(wasp help ${name} for more)`;
}

function wrap(text: string, indent: number, width = 78): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line.length > 0 && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line.length > 0 ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.map((l) => `${' '.repeat(indent)}${l}`).join('\n');
}
