/**
 * Certificates for TLS tests, made at test time with the `openssl` command
 * (the Debian package; .ci/run installs it) in a temporary folder: a CA, a
 * server certificate for 127.0.0.1 and localhost, client certificates signed
 * by that CA, and one signed by another CA (which the broker must refuse).
 * Keys are EC P-256: quick to make and to handshake with.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from './temp-dir.js';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** The CA that signs the server and the trusted clients. */
  ca: CertFiles;
  /** Another CA, trusted by nobody here. */
  otherCa: CertFiles;
  /** CN=localhost, SAN IP:127.0.0.1, DNS:localhost; signed by ca. */
  server: CertFiles;
  /** Makes a server certificate signed by ca (a new key and serial each time): for reload tests. */
  newServer(name: string): CertFiles;
  /** A client certificate with subject CN=`cn`, signed by ca (or by otherCa when `signer` is 'other'). */
  client(cn: string, signer?: 'ca' | 'other'): CertFiles;
  /** Removes the folder. */
  remove(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeKey(dir: string, name: string): string {
  const key = join(dir, `${name}.key`);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], dir);
  return key;
}

function makeCa(dir: string, name: string): CertFiles {
  const key = makeKey(dir, name);
  const cert = join(dir, `${name}.crt`);
  openssl(['req', '-x509', '-new', '-key', key, '-sha256', '-days', '2', '-subj', `/CN=${name}`, '-out', cert], dir);
  return { cert, key };
}

let serial = 1;

function signed(dir: string, name: string, subject: string, signer: CertFiles, extensions: string): CertFiles {
  const key = makeKey(dir, name);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr], dir);
  openssl(
    ['x509', '-req', '-in', csr, '-CA', signer.cert, '-CAkey', signer.key, '-set_serial', String(serial++ + Date.now()), '-days', '2', '-sha256', '-extfile', ext, '-out', cert],
    dir,
  );
  return { cert, key };
}

const SERVER_EXT = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
const CLIENT_EXT = 'extendedKeyUsage=clientAuth\n';

/** Makes the CAs and certificates in a new temporary folder. */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await tempDir('warren-tls-');
  const ca = makeCa(dir, 'test-ca');
  const otherCa = makeCa(dir, 'other-ca');
  return {
    dir,
    ca,
    otherCa,
    server: signed(dir, 'server', '/CN=localhost', ca, SERVER_EXT),
    newServer: (name) => signed(dir, name, `/CN=${name}`, ca, SERVER_EXT),
    client: (cn, signer = 'ca') => signed(dir, `client-${cn}-${signer}`, `/CN=${cn}`, signer === 'ca' ? ca : otherCa, CLIENT_EXT),
    remove: () => removeDir(dir),
  };
}

/** The SHA-256 fingerprint of a PEM certificate file, as Node and openssl print it (AB:CD:...). */
export function fingerprintOf(certFile: string): string {
  return new X509Certificate(readFileSync(certFile)).fingerprint256;
}
