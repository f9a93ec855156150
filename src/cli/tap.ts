import type { Headers } from '../transport/headers.js';
import type { Transport } from '../transport/transport.js';
import { throughPublishes } from '../transport/through.js';
import { showData } from './show.js';

/**
 * `wasp run --tap`: the transport as it is, with every side output and dead letter also written
 * as a line (`emit SUBJECT: DATA {headers}`, `dead SUBJECT: DATA {headers}`), so a stdin pipeline
 * shows everything it does, not only its outputs. Data is shown as text when it is UTF-8, else hex.
 */
export function tapTransport(transport: Transport, write: (line: string) => void): Transport {
  return throughPublishes(transport, (publish) => (subject, data, headers, msgId, kind = 'out', holder) => {
    if (kind !== 'out') write(`${kind === 'emit' ? 'emit' : 'dead'} ${subject}: ${showData(data)}${showHeaders(headers)}\n`);
    return publish(subject, data, headers, msgId, kind, holder);
  });
}

function showHeaders(headers: Headers | undefined): string {
  if (headers === undefined || headers.size === 0) return '';
  return ` ${JSON.stringify(Object.fromEntries([...headers].map(([k, v]) => [k, v.length === 1 ? v[0] : v])))}`;
}
