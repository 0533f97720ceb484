import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { allConfigs } from './configuration.js';
import { validateEnv } from './env.js';

/** Loads .env (when present), validates every variable at boot and exposes the namespaces globally. */
@Module({})
export class GridflowConfigModule {
  static forRoot(): DynamicModule {
    return {
      module: GridflowConfigModule,
      global: true,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          cache: true,
          envFilePath: ['.env'],
          load: allConfigs,
          validate: (raw) => {
            validateEnv(raw as Record<string, string | undefined>);
            return raw;
          },
        }),
      ],
    };
  }
}
