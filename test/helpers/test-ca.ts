// A throw-away certificate authority for TLS tests, made with the openssl CLI: a CA and server
// certificates it signs for given names (subjectAltName), EC P-256 keys, valid two days. Files go into the
// directory the caller owns and removes.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export const OPENSSL_BIN = process.env.KDNS_OPENSSL ?? 'openssl';

export interface TestCa {
  /** The CA certificate (PEM file): what a client trusts. */
  caFile: string;
  /** A key and certificate for a server whose certificate carries `dnsName`. */
  issue(dnsName: string): { keyFile: string; certFile: string };
}

function openssl(args: string[]): void {
  execFileSync(OPENSSL_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

export function makeTestCa(dir: string, label = 'kdns test CA'): TestCa {
  const caKey = path.join(dir, 'ca.key');
  const caFile = path.join(dir, 'ca.pem');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', `/CN=${label}`]);
  let serial = 1;
  return {
    caFile,
    issue(dnsName) {
      const base = path.join(dir, dnsName);
      const keyFile = base + '.key';
      const certFile = base + '.pem';
      const ext = base + '.ext';
      writeFileSync(ext, `subjectAltName=DNS:${dnsName}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyFile, '-out', base + '.csr', '-subj', `/CN=${dnsName}`]);
      openssl(['x509', '-req', '-in', base + '.csr', '-CA', caFile, '-CAkey', caKey, '-set_serial', String(serial++),
        '-out', certFile, '-days', '2', '-extfile', ext]);
      return { keyFile, certFile };
    },
  };
}
