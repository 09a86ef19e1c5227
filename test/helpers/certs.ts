import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Keys and X.509 certificates made with the real `openssl` binary (Node can
 * verify certificates but not issue them). Everything is written into a
 * folder the test owns. Keys are P-256 EC: generated in milliseconds.
 */

const CURVE = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

let opensslProblem: string | null | undefined;

/** Why the tests that need certificates cannot run here (one line for t.skip), or undefined when openssl works. */
export function opensslMissing(): string | undefined {
  if (opensslProblem === undefined) {
    try {
      execFileSync('openssl', ['version'], { stdio: 'pipe' });
      opensslProblem = null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      opensslProblem =
        code === 'ENOENT'
          ? 'openssl is not installed (not on PATH): it generates the certificates these tests need (apt-get install openssl)'
          : `openssl does not run (${code ?? (err as Error).message}): it generates the certificates these tests need`;
    }
  }
  return opensslProblem ?? undefined;
}

/** A key and its certificate, as files and as PEM text. */
export interface IssuedCertificate {
  keyPath: string;
  certPath: string;
  key: string;
  cert: string;
}

/** A private certificate authority that signs leaf certificates with the validity dates a test asks for. */
export interface CertificateAuthority extends IssuedCertificate {
  dir: string;
}

export interface LeafOptions {
  /** The subject's CN; default "localhost". */
  commonName?: string;
  /** subjectAltName entries in openssl's spelling; default DNS:localhost and IP:127.0.0.1. */
  altNames?: string[];
  notBefore?: Date;
  notAfter: Date;
}

const DEFAULT_ALT_NAMES = ['DNS:localhost', 'IP:127.0.0.1'];
let fileCounter = 0;

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: 'pipe' });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl ${args[0]} failed: ${stderr || (err as Error).message}`, { cause: err });
  }
}

function issued(dir: string, stem: string): IssuedCertificate {
  const keyPath = join(dir, `${stem}.key`);
  const certPath = join(dir, `${stem}.pem`);
  return { keyPath, certPath, key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8') };
}

/** A self-signed certificate valid from now for `days` days (openssl req -x509 -days). */
export function selfSignedCertificate(dir: string, options: { days: number; commonName?: string; altNames?: string[] }): IssuedCertificate {
  const stem = `self-${++fileCounter}`;
  const altNames = (options.altNames ?? DEFAULT_ALT_NAMES).join(',');
  openssl(
    [
      'req',
      '-x509',
      ...CURVE,
      '-days',
      String(options.days),
      '-subj',
      `/CN=${options.commonName ?? 'localhost'}`,
      '-addext',
      `subjectAltName=${altNames}`,
      '-keyout',
      `${stem}.key`,
      '-out',
      `${stem}.pem`,
    ],
    dir,
  );
  return issued(dir, stem);
}

/** A CA valid for ten years, in `dir/ca` with the database `openssl ca` keeps. */
export function certificateAuthority(dir: string, commonName = 'Nightshift Test CA'): CertificateAuthority {
  const caDir = join(dir, `ca-${++fileCounter}`);
  mkdirSync(caDir);
  writeFileSync(join(caDir, 'index.txt'), '');
  writeFileSync(join(caDir, 'serial'), '1000\n');
  openssl(
    [
      'req',
      '-x509',
      ...CURVE,
      '-days',
      '3650',
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
    ],
    caDir,
  );
  return { ...issued(caDir, 'ca'), dir: caDir };
}

/** openssl ca's date form: YYYYMMDDHHMMSSZ (UTC). */
function opensslDate(date: Date): string {
  return `${date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:T]/g, '')}`;
}

/**
 * A leaf certificate signed by `authority` with exactly the validity asked for,
 * in the past or the future: `openssl ca -startdate/-enddate` takes any dates,
 * where `x509 -req -days` only counts forward from now (and `-not_after` needs OpenSSL 3.4).
 */
export function issueCertificate(authority: CertificateAuthority, options: LeafOptions): IssuedCertificate {
  const stem = `leaf-${++fileCounter}`;
  const altNames = (options.altNames ?? DEFAULT_ALT_NAMES).join(',');
  writeFileSync(
    join(authority.dir, `${stem}.cnf`),
    [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      'database = index.txt',
      'new_certs_dir = .',
      'serial = serial',
      'default_md = sha256',
      'policy = any_subject',
      'unique_subject = no',
      '[any_subject]',
      'commonName = supplied',
      '[leaf]',
      'basicConstraints = CA:FALSE',
      'keyUsage = digitalSignature',
      'extendedKeyUsage = serverAuth',
      `subjectAltName = ${altNames}`,
      '',
    ].join('\n'),
  );
  openssl(['req', '-new', ...CURVE, '-subj', `/CN=${options.commonName ?? 'localhost'}`, '-keyout', `${stem}.key`, '-out', `${stem}.csr`], authority.dir);
  openssl(
    [
      'ca',
      '-batch',
      '-notext',
      '-config',
      `${stem}.cnf`,
      '-extensions',
      'leaf',
      '-cert',
      'ca.pem',
      '-keyfile',
      'ca.key',
      '-startdate',
      opensslDate(options.notBefore ?? new Date(Date.now() - 3_600_000)),
      '-enddate',
      opensslDate(options.notAfter),
      '-in',
      `${stem}.csr`,
      '-out',
      `${stem}.pem`,
    ],
    authority.dir,
  );
  return issued(authority.dir, stem);
}
