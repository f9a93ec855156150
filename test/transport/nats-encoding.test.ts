// nats.js encodes its protocol lines through Node's buffer pool once Wasp connects (see
// nats-encoding.ts): what it sends must stay byte for byte what it was, multi-byte text included.
import { headers } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { connectNats } from '../../src/transport/connect.js';
import { natsEncodesFromPool } from '../../src/transport/nats-encoding.js';
import { replyToken } from '../../src/transport/publish-acks.js';
import { NatsServer } from '../helpers/nats-server.js';

describe('nats.js encoding through the buffer pool', () => {
  let server: NatsServer;
  beforeAll(async () => {
    server = await NatsServer.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('is what connectNats sets up, and what is sent arrives intact: subjects, headers and string payloads, multi-byte too', async () => {
    expect(natsEncodesFromPool()).toBe(false);
    const nc = await connectNats({ servers: [server.url] }, completeLogger());
    // a connection of plain nats.js reads what the pooled encoder wrote
    const reader = await connect({ servers: server.url });
    try {
      expect(natsEncodesFromPool()).toBe(true);
      const subject = 'enc.grüße.日本';
      const got: { subject: string; data: string; header: string; reply: string | undefined }[] = [];
      reader.subscribe('enc.>', { callback: (_, m) => got.push({ subject: m.subject, data: m.string(), header: m.headers?.get('X-Words') ?? '', reply: m.reply }) });
      await reader.flush();
      const h = headers();
      h.append('X-Words', 'Grüße 🐝, ok');
      nc.publish(subject, 'héllo 🐝', { headers: h, reply: 'enc.réply.1' });
      nc.publish('enc.plain', '');
      await nc.flush();
      const deadline = Date.now() + 5000;
      while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(got).toEqual([
        { subject, data: 'héllo 🐝', header: 'Grüße 🐝, ok', reply: 'enc.réply.1' },
        { subject: 'enc.plain', data: '', header: '', reply: '' },
      ]);
    } finally {
      await nc.close();
      await reader.close();
    }
  });
});

describe('publish ack reply tokens', () => {
  it('reads the number a reply subject ends with, and nothing else', () => {
    expect(replyToken('_INBOX.abc.0')).toBe(0);
    expect(replyToken('_INBOX.abc.1234567')).toBe(1234567);
    for (const subject of ['_INBOX.abc.', '_INBOX.abc.zzz', '_INBOX.abc.0x1f', '_INBOX.abc.1e3', '_INBOX.abc.-1', '_INBOX.abc.12345678901234567']) {
      expect([subject, replyToken(subject)]).toEqual([subject, -1]);
    }
  });
});
