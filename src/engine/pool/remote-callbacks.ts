// Host callbacks for plugins in worker threads. The callback runs on the
// pool's thread, where the engine's callbacks live, and may be async: the
// worker asks over a port and blocks until the answer is there, so to the
// plugin the call is as synchronous as an inline one.
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { defineCallback, type Callback, type CallbackSignature } from '../callbacks.js';

export interface CallbackSpec {
  namespace: string;
  name: string;
  signature: CallbackSignature;
}

type Request = { index: number; args: unknown[] };
type Reply = { value: unknown } | { error: string };

/** Worker side: stand-ins with the callbacks' signatures that forward each call to the pool's thread. */
export function remoteCallbacks(specs: readonly CallbackSpec[], port: MessagePort, answered: SharedArrayBuffer): Callback[] {
  const count = new Int32Array(answered);
  return specs.map((spec, index) =>
    defineCallback(
      spec.namespace,
      spec.name,
      (...args: unknown[]) => {
        const before = Atomics.load(count, 0);
        port.postMessage({ index, args } satisfies Request);
        while (Atomics.load(count, 0) === before) Atomics.wait(count, 0, before);
        const reply = receiveMessageOnPort(port)!.message as Reply;
        if ('error' in reply) throw new Error(reply.error);
        return reply.value;
      },
      spec.signature,
    ),
  );
}

/** Pool side: answers a worker's callback requests, awaiting callbacks that return a promise. */
export function serveCallbacks(callbacks: readonly Callback[], port: MessagePort, answered: SharedArrayBuffer): void {
  const count = new Int32Array(answered);
  port.on('message', (request: Request) => {
    void answer(callbacks[request.index]!, request.args).then((reply) => {
      try {
        port.postMessage(reply);
      } catch (error) {
        port.postMessage({ error: `returned a value that cannot cross to a worker: ${(error as Error).message}` } satisfies Reply);
      }
      Atomics.add(count, 0, 1);
      Atomics.notify(count, 0);
    });
  });
  port.unref();
}

async function answer(callback: Callback, args: unknown[]): Promise<Reply> {
  try {
    return { value: await callback.fn(...args) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}
