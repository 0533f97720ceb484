import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import type { AuthConfig } from '@gridflow/common';
import { AuthController } from './auth.controller.js';
import { JwtStrategy } from './jwt.strategy.js';
import { LoginRateLimiter } from './login-rate-limiter.js';
import { LoginUseCase } from './login.usecase.js';
import { PrincipalLoader } from './principal.loader.js';
import { JWT_ALGORITHM, TokenService } from './token.service.js';

@Module({
  imports: [
    PassportModule,
    JwtModule.registerAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        secret: config.getOrThrow<AuthConfig>('auth').jwtSecret,
        signOptions: { algorithm: JWT_ALGORITHM },
        verifyOptions: { algorithms: [JWT_ALGORITHM] },
      }),
    }),
  ],
  controllers: [AuthController],
  providers: [TokenService, LoginRateLimiter, LoginUseCase, PrincipalLoader, JwtStrategy],
  exports: [TokenService, PrincipalLoader],
})
export class AuthModule {}
