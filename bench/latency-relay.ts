// The latency bench's floor: a bare relay in a process of its own, as `wasp run` is, doing what
// the pipeline bench's relays do (bench/pipeline-runs.ts) and nothing more. Core NATS: subscribe
// and republish. JetStream: consume, publish with a JetStream ack and the message id the pipeline
// would give, then ack the input (nak on a failed publish), with as many in flight as the pipeline allows.
//   node dist/bench/latency-relay.js core URL IN_SUBJECT OUT_SUBJECT [--no-async-traces]
//   node dist/bench/latency-relay.js jetstream URL STREAM CONSUMER OUT_SUBJECT [--no-async-traces]
// It says "relaying" on stderr once it is, and drains and exits on SIGTERM, saying "relayed N"
// (inputs handled: published, and with JetStream acked) so that a bench can divide its CPU time.
// By default the connection has nats.js's defaults, as a careful user would write it;
// --no-async-traces turns off the Error nats.js makes per request (JetStream publishes included),
// as `wasp run` does (src/transport/connect.ts).
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

const MAX_ACK_PENDING = 256;
let relayed = 0;

function coreRelay(nc: NatsConnection, input: string, output: string): void {
  nc.subscribe(input, {
    callback: (_, m) => {
      nc.publish(output, m.data);
      relayed++;
    },
  });
}

async function streamRelay(nc: NatsConnection, stream: string, consumer: string, output: string): Promise<void> {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(stream, { durable_name: consumer, ack_policy: AckPolicy.Explicit, max_ack_pending: MAX_ACK_PENDING });
  const messages = await (await js.consumers.get(stream, consumer)).consume({ max_messages: MAX_ACK_PENDING });
  void (async () => {
    for await (const m of messages) {
      js.publish(output, m.data, { msgID: `${stream}:${m.info.streamSequence}:out:0` }).then(
        () => {
          m.ack();
          relayed++;
        },
        () => m.nak(),
      );
    }
  })();
}

async function main(argv: string[]): Promise<void> {
  const flags = argv.filter((a) => a.startsWith('--'));
  const unknown = flags.filter((f) => f !== '--no-async-traces');
  const [kind, url, ...rest] = argv.filter((a) => !a.startsWith('--'));
  const usage = 'usage: latency-relay.js core URL IN OUT | jetstream URL STREAM CONSUMER OUT [--no-async-traces]';
  if (unknown.length > 0) throw new Error(`unknown flag ${unknown.join(' ')}; ${usage}`);
  const nc = await connect({ servers: url, ...(flags.includes('--no-async-traces') ? { noAsyncTraces: true } : {}) });
  if (kind === 'core' && rest.length === 2) coreRelay(nc, rest[0]!, rest[1]!);
  else if (kind === 'jetstream' && rest.length === 3) await streamRelay(nc, rest[0]!, rest[1]!, rest[2]!);
  else throw new Error(usage);
  await nc.flush();
  process.once('SIGTERM', () =>
    void nc.drain().then(() => {
      process.stderr.write(`relayed ${relayed}\n`);
      process.exit(0);
    }),
  );
  process.stderr.write('relaying\n');
}

await main(process.argv.slice(2));
