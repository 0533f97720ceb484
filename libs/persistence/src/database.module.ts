import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DatabaseConfig } from '@gridflow/common';
import { dataSourceOptions } from './data-source.js';

/** The TypeORM connection for both apps. Migrations are run by scripts/start and test setup, not at import. */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => {
        const db = config.getOrThrow<DatabaseConfig>('database');
        return { ...dataSourceOptions({ url: db.url, poolSize: db.poolSize }), retryAttempts: 3, retryDelay: 1000 };
      },
    }),
  ],
})
export class DatabaseModule {}
