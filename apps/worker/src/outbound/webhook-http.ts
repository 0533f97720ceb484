import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { assertPublicAddress } from '@gridflow/domain';

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** WEBHOOK_ALLOW_PRIVATE_NETWORKS: when off, only public addresses are connected to. */
  allowPrivate: boolean;
}

export interface WebhookAnswer {
  status: number;
  /** The Retry-After header, as sent. */
  retryAfter: string | null;
}

/** The receiver did not answer within WEBHOOK_TIMEOUT_MS. */
export class WebhookTimeout extends Error {
  constructor(ms: number) {
    super(`timeout after ${ms} ms`);
    this.name = 'WebhookTimeout';
  }
}

/**
 * A resolver that hands the socket only public addresses: every address the name resolves to is checked at the
 * moment of connecting (so a name that resolved to a public address at registration and to a private one now — DNS
 * rebinding — is refused), and the socket connects to exactly the addresses checked.
 */
const publicOnlyLookup =
  (host: string): LookupFunction =>
  (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '');
      try {
        for (const a of addresses) assertPublicAddress(host, a.address);
      } catch (refused) {
        return callback(refused as NodeJS.ErrnoException, '');
      }
      if (options.all) return callback(null, addresses);
      const [first] = addresses;
      return first
        ? callback(null, first.address, first.family)
        : callback(new Error(`${hostname} has no address`), '');
    });
  };

/**
 * POSTs one webhook body and resolves with the status code (the response body is discarded; redirects are not
 * followed). Rejects with WebhookTargetRefused when the target is a forbidden address (an address literal before
 * connecting, a name when it resolves, and the socket's remote address once connected), WebhookTimeout, or the
 * connection error.
 */
export function postWebhook(r: WebhookRequest): Promise<WebhookAnswer> {
  const url = new URL(r.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise<WebhookAnswer>((resolve, reject) => {
    if (!r.allowPrivate && isIP(host)) assertPublicAddress(host, host);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let req: ClientRequest | null = null;
    const timer = setTimeout(() => req?.destroy(new WebhookTimeout(r.timeoutMs)), r.timeoutMs);
    req = send(url, {
      method: 'POST',
      headers: { ...r.headers, 'content-length': String(Buffer.byteLength(r.body)) },
      agent: false,
      ...(r.allowPrivate ? {} : { lookup: publicOnlyLookup(host) }),
    });
    req.on('socket', (socket) => {
      if (r.allowPrivate) return;
      socket.once('connect', () => {
        try {
          if (socket.remoteAddress) assertPublicAddress(host, socket.remoteAddress);
        } catch (refused) {
          req?.destroy(refused as Error);
        }
      });
    });
    req.on('response', (res: IncomingMessage) => {
      clearTimeout(timer);
      const retryAfter = res.headers['retry-after'];
      resolve({ status: res.statusCode ?? 0, retryAfter: typeof retryAfter === 'string' ? retryAfter : null });
      req?.destroy(); // the body is not read: a receiver cannot keep a worker busy streaming one
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(r.body);
  });
}

/** Retry-After (delta-seconds or an HTTP date) in milliseconds from `now`; null when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** What one POST came to: delivered, a permanent refusal (no more tries), or worth retrying. */
export type Outcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'permanent'; status: number | null; error: string }
  | { kind: 'retry'; status: number | null; error: string; retryAfterMs: number | null };

/** Client errors that say "later", not "never": Request Timeout, Too Early, Too Many Requests. */
const RETRIED_4XX: ReadonlySet<number> = new Set([408, 425, 429]);

/**
 * The retry policy of a receiver's answer: 2xx is delivered; 5xx and 408/425/429 are retried (with their
 * Retry-After); any other status — other 4xx, and 3xx, since redirects are not followed — is permanent.
 */
export function outcomeOf(status: number, retryAfter: number | null): Outcome {
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  const error = `HTTP ${status}`;
  if (status >= 500 || RETRIED_4XX.has(status)) return { kind: 'retry', status, error, retryAfterMs: retryAfter };
  return { kind: 'permanent', status, error };
}
