import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { hostname } from 'node:os';
import { DataSource } from 'typeorm';

export const WORKER_ID = `${hostname()}-${process.pid}`;

/** Records that this worker is alive. Idempotent: an upsert of one row per worker. */
@Injectable()
export class HeartbeatHandler {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async handle(): Promise<void> {
    await this.ds.query(
      `INSERT INTO worker_heartbeats (worker_id, beat_at, beats) VALUES (?, NOW(3), 1)
       ON DUPLICATE KEY UPDATE beat_at = NOW(3), beats = beats + 1`,
      [WORKER_ID],
    );
  }
}
