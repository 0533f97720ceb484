import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { currentCorrelationId } from '@gridflow/common';
import { insertRows, OutboxEntity, type JsonObject } from '@gridflow/persistence';
import type { JobName, JobPayloads } from '@gridflow/queue';

export interface OutboxMessage<J extends JobName = JobName> {
  jobName: J;
  aggregateId?: string | null;
  payload: JobPayloads[J];
  /** The request or job the work derives from, when not the current one (work derived for several at once). */
  correlationId?: string | null;
}

/**
 * Writes derived work into the outbox inside the caller's transaction: if the change commits, the work will run
 * (the relay publishes it); if it rolls back, the work never existed.
 */
@Injectable()
export class OutboxWriter {
  async add(em: EntityManager, messages: OutboxMessage[]): Promise<void> {
    if (!messages.length) return;
    const correlationId = currentCorrelationId() ?? null;
    await insertRows(
      em,
      OutboxEntity,
      messages.map((m) => ({
        jobName: m.jobName,
        aggregateId: m.aggregateId ?? null,
        payload: m.payload as JsonObject,
        correlationId: m.correlationId !== undefined ? m.correlationId : correlationId,
      })),
    );
  }
}
