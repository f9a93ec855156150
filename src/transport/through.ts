import type { Publisher, Transport } from './transport.js';

type Publish = Publisher['publish'];

/**
 * The transport as it is, with every publish passed through `through` first: what `wasp run --tap`
 * and the tests that hold publishes back put between a pipeline and its transport.
 */
export function throughPublishes(transport: Transport, through: (publish: Publish) => Publish): Transport {
  return {
    name: transport.name,
    source: (input) => transport.source(input),
    close: () => transport.close(),
    publisher: async (options): Promise<Publisher> => {
      const inner = await transport.publisher(options);
      return { room: inner.room?.bind(inner), publish: through(inner.publish.bind(inner)) };
    },
  };
}
