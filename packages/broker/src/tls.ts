/**
 * TLS: the certificate, key and CA the broker serves, read from files, and
 * what a TLS connection tells about its peer.
 *
 * The files are read at start (a bad file stops the start, naming the file)
 * and again on reload (SIGHUP in `warren server`, or broker.reloadTls() from
 * the management API): a reload that cannot read or match the new files
 * keeps the old certificate. Listeners (the TLS listener, the HTTPS
 * management listener) are told of each successful reload and give new
 * connections the new certificate; open connections keep theirs.
 *
 * Never logged or sent anywhere: the key and its passphrase.
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';

/** The TLS port when a certificate is configured and no port is given. */
export const DEFAULT_TLS_PORT = 5681;

export interface TlsConfig {
  /** PEM file: the server's certificate, then any intermediates. */
  cert: string;
  /** PEM file: the certificate's private key. */
  key: string;
  /** PEM file of CA certificates that sign client certificates; with it, clients are asked for one. */
  ca?: string;
  /** Mutual TLS: refuse clients without a certificate signed by `ca` (needs `ca`). Default false. */
  verifyPeer?: boolean;
  /** File whose first line is the key's passphrase (an encrypted key). */
  keyPassphraseFile?: string;
  /** The key's passphrase itself (programmatic use; on a command line use keyPassphraseFile). */
  keyPassphrase?: string;
  /** Port of the TLS listener; 0 picks a free one. Default 5681. */
  port?: number;
}

/** What a served (or presented) certificate says, for logs, status and tests. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** SHA-256 fingerprint, `AB:CD:...` as openssl and Node print it. */
  fingerprint256: string;
  validFrom: string;
  validTo: string;
}

/** The TLS side of one connection, as management listings show it. */
export interface ConnectionTls {
  /** 'TLSv1.3', ... */
  protocol: string | null;
  cipher: string | null;
  /** The client certificate's subject (`CN=app, O=...`), null when it presented none. */
  peerSubject: string | null;
  /** The client certificate was verified against the configured CA. */
  peerVerified: boolean;
}

type Listener = (options: SecureContextOptions, context: SecureContext) => void;

interface Loaded {
  options: SecureContextOptions;
  context: SecureContext;
  certificate: CertificateInfo;
}

function describe(cert: X509Certificate): CertificateInfo {
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    fingerprint256: cert.fingerprint256,
    validFrom: cert.validFrom,
    validTo: cert.validTo,
  };
}

/** X509Certificate names are one attribute per line. */
function oneLine(name: string): string {
  return name.split('\n').join(', ');
}

interface Files {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
  passphrase: Buffer | undefined;
}

function readError(what: string, path: string, err: unknown): Error {
  // The error names the setting and the file, never what is in it.
  return new Error(`cannot read the TLS ${what} file '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
}

const SETTINGS = [
  ['cert', 'certificate'],
  ['key', 'key'],
  ['ca', 'CA'],
  ['keyPassphraseFile', 'key passphrase'],
] as const;

async function readFiles(config: TlsConfig): Promise<Files> {
  const out: (Buffer | undefined)[] = [];
  for (const [setting, what] of SETTINGS) {
    const path = config[setting];
    out.push(path === undefined ? undefined : await readFile(path).catch((err: unknown) => Promise.reject(readError(what, path, err))));
  }
  return { cert: out[0]!, key: out[1]!, ca: out[2], passphrase: out[3] };
}

function readFilesSync(config: TlsConfig): Files {
  const out: (Buffer | undefined)[] = [];
  for (const [setting, what] of SETTINGS) {
    const path = config[setting];
    try {
      out.push(path === undefined ? undefined : readFileSync(path));
    } catch (err) {
      throw readError(what, path!, err);
    }
  }
  return { cert: out[0]!, key: out[1]!, ca: out[2], passphrase: out[3] };
}

/** Checks what was read: PEM certificates, a key that opens (passphrase) and matches the certificate. */
function build(config: TlsConfig, files: Files): Loaded {
  const { cert, key, ca } = files;
  const passphrase = files.passphrase !== undefined ? files.passphrase.toString('utf8').split(/\r?\n/)[0] : config.keyPassphrase;
  let certificate: CertificateInfo;
  try {
    certificate = describe(new X509Certificate(cert));
  } catch (err) {
    throw new Error(`the TLS certificate file '${config.cert}' holds no PEM certificate: ${(err as Error).message}`);
  }
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch (err) {
      throw new Error(`the TLS CA file '${config.ca}' holds no PEM certificate: ${(err as Error).message}`);
    }
  }
  const options: SecureContextOptions = { cert, key, ...(ca !== undefined ? { ca } : {}), ...(passphrase !== undefined ? { passphrase } : {}) };
  let context: SecureContext;
  try {
    context = createSecureContext(options);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`the TLS key '${config.key}' cannot be used with the certificate '${config.cert}' (wrong key or passphrase): ${code ?? (err as Error).message}`);
  }
  return { options, context, certificate };
}

/**
 * Reads and checks a TLS config's files (synchronously): the options for
 * `tls.createServer`, `https.createServer` or `server.setSecureContext`.
 * Throws an Error naming the file that is missing or wrong.
 */
export function tlsOptionsFrom(config: TlsConfig): SecureContextOptions {
  return build(config, readFilesSync(config)).options;
}

/** The broker's current TLS material and whoever must hear of a reload. */
export class TlsCertificates {
  private loaded: Loaded;
  private readonly listeners = new Set<Listener>();

  private constructor(
    readonly config: TlsConfig,
    loaded: Loaded,
  ) {
    this.loaded = loaded;
  }

  /** Reads the files; rejects with an Error naming the file that is wrong. */
  static async load(config: TlsConfig): Promise<TlsCertificates> {
    if (config.verifyPeer === true && config.ca === undefined) throw new Error('TLS client verification (verifyPeer) needs a CA file (ca) to verify client certificates against');
    return new TlsCertificates(config, build(config, await readFiles(config)));
  }

  /** cert, key, ca and passphrase as loaded: for `https.createServer({ ...tls.options })`. */
  get options(): SecureContextOptions {
    return this.loaded.options;
  }

  /** The secure context made from them. */
  get context(): SecureContext {
    return this.loaded.context;
  }

  /** The certificate served now. */
  get certificate(): CertificateInfo {
    return this.loaded.certificate;
  }

  /** Clients are asked for a certificate (a CA is configured). */
  get requestsCert(): boolean {
    return this.config.ca !== undefined;
  }

  get verifyPeer(): boolean {
    return this.config.verifyPeer === true;
  }

  /**
   * Reads the files again. On success the listeners get the new material
   * (for the connections they accept next); on failure the old material
   * stays and the Error names what is wrong.
   */
  async reload(): Promise<CertificateInfo> {
    const loaded = build(this.config, await readFiles(this.config));
    this.loaded = loaded;
    for (const listener of this.listeners) listener(loaded.options, loaded.context);
    return loaded.certificate;
  }

  /** Calls `listener` after every successful reload; returns the unsubscribe function. */
  onReload(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The TLS side of an accepted socket. */
export function connectionTls(socket: TLSSocket): ConnectionTls {
  const peer = socket.getPeerX509Certificate();
  return {
    protocol: socket.getProtocol(),
    cipher: socket.getCipher()?.name ?? null,
    peerSubject: peer !== undefined ? oneLine(peer.subject) : null,
    peerVerified: peer !== undefined && socket.authorized,
  };
}

/**
 * The username a verified client certificate stands for (EXTERNAL, spec
 * 4.2): its subject's common name; undefined when there is no single CN.
 */
export function peerCommonName(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const cn = socket.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' && cn !== '' ? cn : undefined;
}
