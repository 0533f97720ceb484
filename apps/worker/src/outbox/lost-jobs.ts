import type { Queue } from 'bullmq';
import type { DataSource } from 'typeorm';
import { jobsHeld, JobName, outboxJobRoute, QueueName } from '@gridflow/queue';
import { OUTBOX_STUCK_MS } from '../timers/timer-sweeper.service.js';

const BATCH = 1000;

/**
 * Hands back to the relay the effect rows (notifications, roll-ups, webhooks, SMS) published within the last
 * OUTBOX_STUCK_MS and never applied whose job Redis no longer holds: the recent work a FLUSHALL or a restart without
 * persistence took with it. Older such rows are the timer sweeper's, which republishes them on its next pass; timer
 * rows are the sweeper's too. Job ids are deterministic, so a row whose job still exists (waiting, active, delayed,
 * failed) is left alone, and a job that completes meanwhile finds its effect applied. Returns how many rows went back.
 */
export async function republishLostJobs(ds: DataSource, queues: { effects: Queue; outbound: Queue }): Promise<number> {
  let total = 0;
  let after = '0';
  for (;;) {
    const rows = (await ds.query(
      `SELECT o.id, o.job_name, o.payload, o.job_id FROM outbox o LEFT JOIN applied_effects a ON a.outbox_id = o.id
        WHERE o.sent_at >= NOW(3) - INTERVAL ${OUTBOX_STUCK_MS / 1000} SECOND AND o.id > ?
          AND a.outbox_id IS NULL AND o.job_name <> ?
        ORDER BY o.id LIMIT ${BATCH}`,
      [after, JobName.FireTimer],
    )) as { id: string; job_name: string; payload: string; job_id: string | null }[];
    if (!rows.length) return total;
    const routes = rows.map((r) =>
      outboxJobRoute(r.job_name as JobName, JSON.parse(r.payload) as Record<string, unknown>, String(r.id), r.job_id),
    );
    const exists = await jobsHeld(
      routes.map((r) => ({ queue: r.queueName === QueueName.Outbound ? queues.outbound : queues.effects, jobId: r.jobId })),
    );
    const lost = rows.filter((_, i) => !exists[i]).map((r) => String(r.id));
    if (lost.length) {
      await ds.query(
        `UPDATE outbox SET sent_at = NULL WHERE id IN (${lost.map(() => '?').join(',')}) AND sent_at IS NOT NULL`,
        lost,
      );
      total += lost.length;
    }
    after = String(rows[rows.length - 1].id);
    if (rows.length < BATCH) return total;
  }
}
