import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const KEYLEN = 32;

function scryptAsync(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEYLEN, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/**
 * scrypt hash in a self-describing string `scrypt$<log2N>$<r>$<p>$<salt>$<hash>`, so the cost can be raised
 * later without invalidating stored hashes. Default cost follows OWASP (N = 2^17, r = 8, p = 1).
 */
export async function hashPassword(password: string, log2N = 17): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, 2 ** log2N, 8, 1);
  return `scrypt$${log2N}$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, log2N, r, p, salt, hash] = parts;
  const expected = Buffer.from(hash, 'base64');
  const key = await scryptAsync(password, Buffer.from(salt, 'base64'), 2 ** Number(log2N), Number(r), Number(p));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash of a random password, verified against when the username is unknown, so timing does not reveal it. */
let decoy: Promise<string> | undefined;
export function decoyHash(log2N = 17): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'), log2N);
  return decoy;
}
