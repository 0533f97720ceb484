import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { CreatedAtColumn } from './timestamps.js';

/**
 * A refresh token, stored as a SHA-256 hash. Tokens rotate: each use revokes the presented token and issues a
 * successor in the same family. Presenting a revoked token again revokes the whole family (theft detection).
 */
@Entity({ name: 'refresh_tokens' })
@Index('ix_refresh_tokens_user', ['userId'])
@Index('ix_refresh_tokens_family', ['familyId'])
export class RefreshTokenEntity {
  @PrimaryColumn({ type: 'char', length: 36 })
  id: string;

  @Column({ name: 'user_id', type: 'char', length: 36 })
  userId: string;

  @Column({ name: 'family_id', type: 'char', length: 36 })
  familyId: string;

  @Index('ux_refresh_tokens_hash', { unique: true })
  @Column({ name: 'token_hash', type: 'char', length: 64 })
  tokenHash: string;

  @Column({ name: 'expires_at', type: 'datetime', precision: 3 })
  expiresAt: Date;

  @Column({ name: 'revoked_at', type: 'datetime', precision: 3, nullable: true, default: null })
  revokedAt: Date | null;

  @Column({ name: 'replaced_by_id', type: 'char', length: 36, nullable: true, default: null })
  replacedById: string | null;

  @CreatedAtColumn()
  createdAt: Date;
}
