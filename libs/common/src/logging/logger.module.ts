import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import type { Request } from 'express';
import type { AppConfig } from '../config/configuration.js';
import { correlationIdFor, currentCorrelationId } from './correlation.js';

/** Structured JSON logs (pino) carrying the correlation id; credentials are redacted. */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => {
        const app = config.getOrThrow<AppConfig>('app');
        return {
          pinoHttp: {
            level: app.logLevel,
            genReqId: (req) => correlationIdFor(req as unknown as Request),
            mixin: () => {
              const correlationId = currentCorrelationId();
              return correlationId ? { correlationId } : {};
            },
            redact: {
              paths: ['req.headers.authorization', 'req.headers.cookie', 'req.body.password', 'req.body.refreshToken'],
              censor: '[redacted]',
            },
            serializers: {
              req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
            },
            autoLogging: { ignore: (req) => req.url === '/health' },
          },
        };
      },
    }),
  ],
  exports: [LoggerModule],
})
export class GridflowLoggerModule {}
