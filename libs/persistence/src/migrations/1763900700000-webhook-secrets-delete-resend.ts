import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { validateEnv, webhookSecretKey } from '@gridflow/common';

/**
 * Webhook hardening:
 * - signing secrets are stored encrypted: `secret_ciphertext` (AES-256-GCM under WEBHOOK_SECRET_KEY, bound to the
 *   endpoint id) replaces the plaintext `secret`, and every existing secret is encrypted on the way;
 * - endpoints are soft-deleted (`deleted_at`), so the deliveries of a deleted endpoint stay readable;
 * - deliveries count administrator resends (`resends`, `resent_at`, `resent_by`).
 * Encrypting existing secrets needs the key the apps will use (WEBHOOK_SECRET_KEY, or its development fallback); a
 * database without endpoints needs none.
 */
export class WebhookSecretsDeleteResend1763900700000 implements MigrationInterface {
  name = 'WebhookSecretsDeleteResend1763900700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'ALTER TABLE `webhook_endpoints` ADD `secret_ciphertext` varchar(1536) NULL, ADD `deleted_at` datetime(3) NULL',
    );
    const rows = (await q.query('SELECT `id`, `secret` FROM `webhook_endpoints`')) as { id: string; secret: string }[];
    if (rows.length) {
      const key = migrationKey();
      for (const r of rows)
        await q.query('UPDATE `webhook_endpoints` SET `secret_ciphertext` = ? WHERE `id` = ?', [
          seal(key, r.id, r.secret),
          r.id,
        ]);
    }
    await q.query('ALTER TABLE `webhook_endpoints` DROP COLUMN `secret`');
    await q.query(
      'ALTER TABLE `webhook_deliveries` ADD `resends` int UNSIGNED NOT NULL DEFAULT 0, ADD `resent_at` datetime(3) NULL, ADD `resent_by` char(36) NULL',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      'ALTER TABLE `webhook_deliveries` DROP COLUMN `resent_by`, DROP COLUMN `resent_at`, DROP COLUMN `resends`',
    );
    // deleted endpoints (secret wiped, disabled) come back disabled with an empty secret
    await q.query("ALTER TABLE `webhook_endpoints` ADD `secret` varchar(255) NOT NULL DEFAULT ''");
    await q.query('UPDATE `webhook_endpoints` SET `enabled` = 0 WHERE `deleted_at` IS NOT NULL');
    const rows = (await q.query(
      'SELECT `id`, `secret_ciphertext` FROM `webhook_endpoints` WHERE `secret_ciphertext` IS NOT NULL',
    )) as {
      id: string;
      secret_ciphertext: string;
    }[];
    if (rows.length) {
      const key = migrationKey();
      for (const r of rows)
        await q.query('UPDATE `webhook_endpoints` SET `secret` = ? WHERE `id` = ?', [
          open(key, r.id, r.secret_ciphertext),
          r.id,
        ]);
    }
    await q.query('ALTER TABLE `webhook_endpoints` ALTER `secret` DROP DEFAULT');
    await q.query('ALTER TABLE `webhook_endpoints` DROP COLUMN `deleted_at`, DROP COLUMN `secret_ciphertext`');
  }
}

/** The key the apps use, from the same validated configuration (the migrate tool has already loaded .env). */
function migrationKey(): Buffer {
  try {
    return webhookSecretKey(validateEnv(process.env));
  } catch (e) {
    throw new Error(`Encrypting the existing webhook secrets needs a valid configuration: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

// The v1 format, frozen here as it was written (libs/domain's webhook-secrets.ts reads it):
// `v1.<base64url(iv(12) ‖ tag(16) ‖ ciphertext)>`, AES-256-GCM, AAD `webhook_endpoints:<id>`.
const aad = (id: string) => Buffer.from(`webhook_endpoints:${id}`, 'utf8');

function seal(key: Buffer, id: string, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(id));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return `v1.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}`;
}

function open(key: Buffer, id: string, sealed: string): string {
  const bytes = Buffer.from(sealed.slice(3), 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
  decipher.setAAD(aad(id));
  decipher.setAuthTag(bytes.subarray(12, 28));
  return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
}
