import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '@gridflow/common';
import { AppModule } from './app.module.js';
import { configureApp } from './configure-app.js';

const app = await NestFactory.create<NestExpressApplication>(AppModule, { bodyParser: false, bufferLogs: true });
configureApp(app);
const { port } = app.get(ConfigService).getOrThrow<AppConfig>('app');
await app.listen(port, '0.0.0.0');
console.log(`Gridflow API listening on http://127.0.0.1:${port} (docs at /api/docs)`);
