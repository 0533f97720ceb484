import { Injectable, Logger } from '@nestjs/common';

/** An SMS gateway. Implementations throw when the message was not accepted (the job is retried). */
export interface SmsSender {
  /** The driver's name, recorded on each sms_outbox row it sends. */
  readonly driver: string;
  send(phone: string, text: string): Promise<void>;
}

/** Injection token of the configured SmsSender (chosen by SMS_DRIVER). */
export const SMS_SENDER = Symbol('SMS_SENDER');

/** Shows the last four digits only: logs are no place for phone numbers. */
export const maskPhone = (phone: string): string =>
  phone.length > 4 ? `${'*'.repeat(phone.length - 4)}${phone.slice(-4)}` : '****';

/**
 * Development driver (`SMS_DRIVER=log`): sends nothing, writes each message to the log and keeps the most recent
 * ones in memory (for tests and local inspection). The durable record is the sms_outbox row.
 */
@Injectable()
export class LoggingSmsSender implements SmsSender {
  static readonly KEEP = 1000;
  readonly driver = 'log';
  private readonly logger = new Logger('SmsSender');
  /** The most recent messages, oldest first. */
  readonly sent: { phone: string; text: string; at: Date }[] = [];

  send(phone: string, text: string): Promise<void> {
    this.logger.log(`SMS to ${maskPhone(phone)}: ${text}`);
    this.sent.push({ phone, text, at: new Date() });
    if (this.sent.length > LoggingSmsSender.KEEP) this.sent.splice(0, this.sent.length - LoggingSmsSender.KEEP);
    return Promise.resolve();
  }
}

/** Builds the SmsSender for a configured driver name (validated at boot by the env schema). */
export function createSmsSender(driver: string): SmsSender {
  if (driver === 'log') return new LoggingSmsSender();
  throw new Error(`Unknown SMS_DRIVER "${driver}"`);
}
