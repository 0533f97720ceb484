import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Webhook signing secrets at rest: AES-256-GCM under WEBHOOK_SECRET_KEY, bound to their endpoint's id (as
 * additional authenticated data), so a database dump holds no usable secret and a sealed secret copied onto another
 * endpoint does not open. Format `v1.<base64url(iv ‖ tag ‖ ciphertext)>`; the migration that encrypted the
 * plaintext secrets writes the same format.
 */
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const aad = (endpointId: string) => Buffer.from(`webhook_endpoints:${endpointId}`, 'utf8');

/** Encrypts an endpoint's signing secret for storage. */
export function sealWebhookSecret(key: Buffer, endpointId: string, secret: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(endpointId));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}`;
}

/** Decrypts a stored secret; throws when it was sealed under another key or for another endpoint, or was altered. */
export function openWebhookSecret(key: Buffer, endpointId: string, sealed: string): string {
  const [version, body] = sealed.split('.');
  if (version !== VERSION || !body) throw new Error('unknown webhook secret format');
  const bytes = Buffer.from(body, 'base64url');
  if (bytes.length < IV_BYTES + TAG_BYTES) throw new Error('truncated webhook secret');
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
  decipher.setAAD(aad(endpointId));
  decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
}
