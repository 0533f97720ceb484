import { createHmac } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { newId } from '@gridflow/common';
import { JobName } from '@gridflow/queue';
import { OutboxWriter, type OutboxMessage } from '../outbox/outbox.writer.js';
import { ESCALATION_LADDER } from '../timers/escalation-ladder.js';

/** A notification row as it was offered for insertion (its id is fresh; INSERT IGNORE may have kept an older row). */
export interface NotificationRow {
  id: string;
  userId: string;
  taskId: string | null;
  template: string;
  title: string;
  dedupKey: string;
  /** The request the notification derives from, when not the current one (a batch of notify rows). */
  correlationId?: string | null;
}

/** Templates that also go out by SMS (to recipients with a phone): urges, overdue notices and the escalation ladder. */
export const SMS_TEMPLATES: ReadonlySet<string> = new Set([
  'task.urged',
  'task.overdue',
  ...ESCALATION_LADDER.map((r) => r.template),
]);

/** `sha256=<hex HMAC-SHA256 of the raw body>`, the X-Gridflow-Signature header of a webhook delivery. */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** Whether an endpoint's event list takes a template. */
export const endpointWants = (events: readonly string[], template: string): boolean =>
  events.includes('*') || events.includes(template);

/**
 * Fans newly created in-app notifications out to the outbound channels, inside the transaction that created them:
 * one webhook_deliveries row per (enabled and not deleted matching endpoint, notification) and one sms_outbox row per
 * SMS-worthy notification whose recipient has a phone, each with its job queued through the outbox. A notification
 * that already existed (a redelivered event) adds nothing: only rows whose fresh id made it into the table are fanned
 * out.
 */
@Injectable()
export class NotificationChannels {
  constructor(private readonly outbox: OutboxWriter) {}

  async fanOut(em: EntityManager, rows: NotificationRow[]): Promise<void> {
    if (!rows.length) return;
    const endpoints = (
      (await em.query(
        'SELECT id, events FROM webhook_endpoints WHERE enabled = 1 AND deleted_at IS NULL ORDER BY id',
      )) as {
        id: string;
        events: string;
      }[]
    ).map((e) => ({ id: e.id, events: e.events ? e.events.split(',') : [] }));
    const hooksFor = (template: string) => endpoints.filter((e) => endpointWants(e.events, template));
    const relevant = rows.filter((r) => SMS_TEMPLATES.has(r.template) || hooksFor(r.template).length > 0);
    if (!relevant.length) return;
    const fresh = await this.inserted(em, relevant);
    if (!fresh.length) return;
    const messages: OutboxMessage[] = [];

    const now = new Date().toISOString();
    const deliveries: unknown[][] = [];
    for (const n of fresh) {
      for (const e of hooksFor(n.template)) {
        const id = newId();
        const payload = JSON.stringify({
          deliveryId: id,
          event: n.template,
          occurredAt: now,
          notification: { id: n.id, userId: n.userId, taskId: n.taskId, template: n.template, title: n.title },
        });
        deliveries.push([id, e.id, n.id, n.taskId, n.template.slice(0, 64), payload]);
        messages.push({ jobName: JobName.DeliverWebhook, aggregateId: id, payload: { deliveryId: id }, correlationId: n.correlationId });
      }
    }
    for (let i = 0; i < deliveries.length; i += 500) {
      const chunk = deliveries.slice(i, i + 500);
      await em.query(
        `INSERT IGNORE INTO webhook_deliveries (id, endpoint_id, notification_id, task_id, template, payload) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?)').join(',')}`,
        chunk.flat(),
      );
    }

    const sms = fresh.filter((n) => SMS_TEMPLATES.has(n.template));
    if (sms.length) {
      const userIds = [...new Set(sms.map((n) => n.userId))];
      const phones = new Map(
        (
          (await em.query(
            `SELECT id, phone FROM users WHERE id IN (${userIds.map(() => '?').join(',')}) AND phone IS NOT NULL AND phone <> '' AND disabled = 0`,
            userIds,
          )) as { id: string; phone: string }[]
        ).map((u) => [u.id, u.phone]),
      );
      const smsRows: unknown[][] = [];
      for (const n of sms) {
        const phone = phones.get(n.userId);
        if (!phone) continue;
        const id = newId();
        smsRows.push([
          id,
          n.userId,
          n.id,
          n.taskId,
          phone,
          n.template.slice(0, 64),
          `【Gridflow】${n.title}`.slice(0, 500),
          n.dedupKey,
        ]);
        messages.push({ jobName: JobName.SendSms, aggregateId: id, payload: { smsId: id }, correlationId: n.correlationId });
      }
      if (smsRows.length) {
        await em.query(
          `INSERT IGNORE INTO sms_outbox (id, user_id, notification_id, task_id, phone, template, text, dedup_key) VALUES ${smsRows.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(',')}`,
          smsRows.flat(),
        );
      }
    }
    await this.outbox.add(em, messages);
  }

  /** The rows whose own (fresh) id is in the table: the ones this transaction inserted. */
  private async inserted(em: EntityManager, rows: NotificationRow[]): Promise<NotificationRow[]> {
    const present = new Set<string>();
    for (let i = 0; i < rows.length; i += 1000) {
      const ids = rows.slice(i, i + 1000).map((r) => r.id);
      const found = (await em.query(
        `SELECT id FROM notifications WHERE id IN (${ids.map(() => '?').join(',')})`,
        ids,
      )) as { id: string }[];
      for (const f of found) present.add(f.id);
    }
    return rows.filter((r) => present.has(r.id));
  }
}
