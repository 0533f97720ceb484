import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuthConfig, decoyHash, DomainError, ErrorCode, verifyPassword } from '@gridflow/common';
import { OrgUnitEntity, UserEntity } from '@gridflow/persistence';
import { LoginRateLimiter } from './login-rate-limiter.js';
import { IssuedTokens, TokenService } from './token.service.js';

export interface LoginCommand {
  username: string;
  password: string;
  clientIp: string;
}

/** Verifies credentials (constant work whether or not the user exists) and issues a token pair. */
@Injectable()
export class LoginUseCase {
  private readonly log2N: number;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly tokens: TokenService,
    private readonly limiter: LoginRateLimiter,
    config: ConfigService,
  ) {
    this.log2N = config.getOrThrow<AuthConfig>('auth').passwordLog2N;
  }

  async execute(cmd: LoginCommand): Promise<IssuedTokens & { user: UserEntity }> {
    await this.limiter.assertAllowed(cmd.clientIp, cmd.username);
    const user = await this.ds.getRepository(UserEntity).findOneBy({ username: cmd.username });
    const ok = await verifyPassword(cmd.password, user?.passwordHash ?? (await decoyHash(this.log2N)));
    if (!user || !ok) {
      await this.limiter.recordFailure(cmd.clientIp, cmd.username);
      throw new DomainError(ErrorCode.INVALID_CREDENTIALS, 'Wrong username or password');
    }
    const unit = await this.ds.getRepository(OrgUnitEntity).findOneBy({ id: user.orgUnitId });
    if (user.disabled || !unit || unit.disabled) {
      throw new DomainError(ErrorCode.USER_DISABLED, 'This account is disabled');
    }
    await this.limiter.reset(cmd.clientIp, cmd.username);
    const { refreshId: _id, ...tokens } = await this.tokens.issue(user);
    return { ...tokens, user };
  }
}
