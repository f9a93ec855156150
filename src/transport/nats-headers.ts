// Headers between the pipeline's own type and nats.js's.
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { Headers } from './headers.js';

export function toNatsHeaders(h: Headers | undefined): MsgHdrs | undefined {
  if (h === undefined || h.size === 0) return undefined;
  const out = natsHeaders();
  for (const [name, values] of h.entries()) for (const v of values) out.append(name, v);
  return out;
}

export function fromNatsHeaders(h: MsgHdrs | undefined): Headers | undefined {
  if (h === undefined) return undefined;
  const out = new Headers();
  for (const name of h.keys()) for (const v of h.values(name)) out.append(name, v);
  return out;
}
