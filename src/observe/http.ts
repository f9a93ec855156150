// `--http HOST:PORT` of `wasp run` and `wasp worker`: /metrics (Prometheus text format),
// /healthz (the process answers) and /readyz (connected, pipelines started, not draining).
import { createServer, type Server } from 'node:http';
import { WaspError } from '../engine/errors.js';
import type { Logger } from '../engine/logger.js';
import type { WaspMetrics } from './metrics.js';

/** The address cannot be listened on (taken, not this machine's, malformed). */
export class HttpListenError extends WaspError {
  override name = 'HttpListenError';
  constructor(
    message: string,
    readonly address: string,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

export interface HttpEndpoints {
  metrics: WaspMetrics;
  /** undefined when ready, else why not (the body of a 503) */
  notReady(): string | undefined;
}

/** HOST:PORT, [IPv6]:PORT or :PORT (every interface); port 0 takes a free one. */
export function parseAddress(address: string): { host: string | undefined; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65_535) throw new HttpListenError(`--http ${address}: expected HOST:PORT (e.g. 127.0.0.1:9090, or :9090 for every interface)`, address);
  const host = match[1] ?? match[2];
  return { host: host === '' ? undefined : host, port };
}

export async function serveHttp(address: string, endpoints: HttpEndpoints, logger: Logger): Promise<{ url: string; close(): Promise<void> }> {
  const { host, port } = parseAddress(address);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      endpoints.metrics.scrape().then(
        (text) => res.writeHead(200, { 'content-type': endpoints.metrics.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(error as Error).message}\n`),
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const why = endpoints.notReady();
      res.writeHead(why === undefined ? 200 : 503, { 'content-type': 'text/plain' }).end(why === undefined ? 'ready\n' : `not ready: ${why}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz or /readyz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new HttpListenError(`--http ${address}: cannot listen: ${error.code ?? error.message}`, address, error)));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const where = typeof bound === 'object' && bound !== null ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : address;
  const url = `http://${where}`;
  logger.info(`serving /metrics, /healthz and /readyz on ${url}`);
  return {
    url,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections()),
  };
}
