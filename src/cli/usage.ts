/** A mistake in how the command was invoked: exit 2 with the usage text. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `usage:
  wasp run <pipeline.yaml> [--log-level trace|debug|info|warn|error] [--log-format text|json]
            [--http HOST:PORT]
            runs a pipeline until SIGINT/SIGTERM (or the end of stdin), then drains;
            --http serves /metrics (Prometheus), /healthz and /readyz; json logs
            are one object per line
  wasp validate <pipeline.yaml>...
            checks pipeline files without running them; exit 1 on any problem
  wasp test <pipeline.yaml | dir>... [--timeout MS]
            runs the test cases written beside each pipeline (its tests: list, or
            NAME.test.yaml) in process, whatever its nats: says; a diff for each
            failing case; exit 1 when any fails
  wasp deploy <pipeline.yaml> [--nats URL] [--wait] [--timeout MS]
  wasp deploy --rollback NAME [--to REVISION] [--nats URL] [--wait]
            validates the file, stores its modules (by SHA-256) and the pipeline as
            its next revision in NATS; --wait returns once every worker runs it
  wasp undeploy NAME [--nats URL] [--wait]
            removes a pipeline; workers drain and stop it (its revisions are kept)
  wasp ls [--nats URL]
            deployed pipelines: revision, plugins and digests, workers running them
  wasp worker [--nats URL] [--pipelines PATTERN] [--log-level LEVEL] [--log-format text|json]
            [--http HOST:PORT]
            runs every deployed pipeline matching PATTERN (* matches anything),
            taking new revisions live, until SIGINT/SIGTERM, then drains
  wasp status [--nats URL]
            what the workers report, per pipeline: revision, workers, rates, failures
  wasp call <module.wasm> <function> [ARG ...] [--returns string|bytes|number]
            [--env KEY=VALUE ...] [--memory-pages N] [--abi wasp/1|wasp-go|extism]

  Each ARG is parsed as JSON: a JSON number is a numeric argument, a JSON
  string a string argument; anything else is passed as a string of its text.
  Without --returns the output is printed as UTF-8 text when the plugin gave
  one (one line per output), otherwise the function's numeric return value.
  --returns bytes prints outputs as hex. The plugin's ABI is detected from
  the module (--abi overrides it); for wasp-go, a string argument means a
  string result, numbers alone a number.

  Fleet commands (deploy, undeploy, ls, worker, status) reach NATS with
  --nats URL (default $WASP_NATS_URL, else nats://127.0.0.1:4222), --creds FILE,
  --tls-ca FILE, --tls-cert FILE with --tls-key FILE, --tls-first; each also from
  $WASP_NATS_CREDS, $WASP_NATS_TLS_CA, $WASP_NATS_TLS_CERT, $WASP_NATS_TLS_KEY.
  User and password or a token come from $WASP_NATS_USER and $WASP_NATS_PASSWORD,
  or $WASP_NATS_TOKEN, never from the command line.`;
