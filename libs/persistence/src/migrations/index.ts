import { Foundation1763900000000 } from './1763900000000-foundation.js';
import { WorkflowsTasksLedger1763900100000 } from './1763900100000-workflows-tasks-ledger.js';
import { Notifications1763900200000 } from './1763900200000-notifications.js';
import { TimersEscalation1763900300000 } from './1763900300000-timers-escalation.js';
import { NotificationChannels1763900400000 } from './1763900400000-notification-channels.js';
import { TaskListIndexes1763900600000 } from './1763900600000-task-list-indexes.js';
import { WebhookSecretsDeleteResend1763900700000 } from './1763900700000-webhook-secrets-delete-resend.js';
import { CategoryTimerPolicy1763900800000 } from './1763900800000-category-timer-policy.js';
import { TimerTaskIndex1763900900000 } from './1763900900000-timer-task-index.js';
import { OutboxJobId1763901000000 } from './1763901000000-outbox-job-id.js';
import { TaskChainHead1763901100000 } from './1763901100000-task-chain-head.js';

/** Every migration, in order. New migrations are appended; applied ones are never edited. */
export const MIGRATIONS = [
  Foundation1763900000000,
  WorkflowsTasksLedger1763900100000,
  Notifications1763900200000,
  TimersEscalation1763900300000,
  NotificationChannels1763900400000,
  TaskListIndexes1763900600000,
  WebhookSecretsDeleteResend1763900700000,
  CategoryTimerPolicy1763900800000,
  TimerTaskIndex1763900900000,
  OutboxJobId1763901000000,
  TaskChainHead1763901100000,
];
