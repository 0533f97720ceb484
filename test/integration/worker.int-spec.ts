import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { WORKER_ID } from '../../apps/worker/src/maintenance/heartbeat.handler.js';
import { waitFor } from '../helpers/app.js';

describe('worker wiring (integration, real Redis and MariaDB)', () => {
  let worker: INestApplicationContext;
  let ds: DataSource;

  beforeAll(async () => {
    worker = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error'] });
    await worker.init();
    ds = worker.get<DataSource>(getDataSourceToken());
  });
  afterAll(async () => {
    await worker.close();
  });

  it('the scheduled heartbeat job runs through BullMQ and records the worker in MySQL', async () => {
    const read = async () =>
      ((await ds.query('SELECT beats, beat_at FROM worker_heartbeats WHERE worker_id = ?', [WORKER_ID])) as { beats: number; beat_at: Date }[])[0];
    // another suite in this process may have beaten under the same worker id: wait for a new beat
    const before = Number((await read())?.beats ?? 0);
    const row = await waitFor(async () => {
      const r = await read();
      return r && Number(r.beats) > before ? r : null;
    }, 25000);
    expect(Number(row.beats)).toBe(before + 1);
    expect(Date.now() - new Date(row.beat_at).getTime()).toBeLessThan(30000);
  });
});
