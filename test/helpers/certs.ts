import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Writes into `dir` two CAs (ca, other-ca) and certificates they sign: server (127.0.0.1, by ca),
 * other-server (by other-ca) and client (by ca), each NAME.pem with NAME.key. Needs openssl.
 */
export async function writeCertificates(dir: string): Promise<void> {
  const openssl = async (...args: string[]) => promisify(execFile)('openssl', args, { cwd: dir });
  for (const ca of ['ca', 'other-ca']) {
    await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=wasp test ${ca}`, '-keyout', `${ca}.key`, '-out', `${ca}.pem`);
  }
  const sign = async (name: string, ca: string, ext: string) => {
    await openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=wasp test ${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    await writeFile(join(dir, `${name}.ext`), ext);
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  };
  await sign('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await sign('other-server', 'other-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await sign('client', 'ca', 'extendedKeyUsage=clientAuth\n');
}

/** A nats-server config block for TLS with client certificates, from the files writeCertificates made. */
export function serverTlsConfig(dir: string, cert = 'server'): string {
  const f = (name: string) => join(dir, name);
  return `tls {\n  cert_file: "${f(`${cert}.pem`)}"\n  key_file: "${f(`${cert}.key`)}"\n  ca_file: "${f('ca.pem')}"\n  verify: true\n  timeout: 2\n}\n`;
}
