import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { assertPublicHost, forbiddenAddressKind, WebhookTargetRefused } from './webhook-target.js';
import { openWebhookSecret, sealWebhookSecret } from './webhook-secrets.js';

describe('webhook targets: forbidden addresses', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.3.4', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:c0a8:0101::1', 'private'],
    ['not-an-address', 'reserved'],
  ])('%s is %s', (address, kind) => {
    expect(forbiddenAddressKind(address)).toBe(kind);
  });

  it.each([
    '8.8.8.8',
    '172.32.0.1',
    '172.15.255.255',
    '100.128.0.1',
    '1.1.1.1',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
  ])('%s is public', (address) => {
    expect(forbiddenAddressKind(address)).toBeNull();
  });

  it('refuses address literals and names that resolve to loopback', async () => {
    await expect(assertPublicHost('127.0.0.1')).rejects.toBeInstanceOf(WebhookTargetRefused);
    await expect(assertPublicHost('[::1]')).rejects.toBeInstanceOf(WebhookTargetRefused);
    await expect(assertPublicHost('localhost')).rejects.toThrow(/loopback/);
    await expect(assertPublicHost('hooks.localhost')).rejects.toThrow(/loopback/);
    await expect(assertPublicHost('8.8.8.8')).resolves.toBeUndefined();
  });
});

describe('webhook secrets at rest', () => {
  const key = randomBytes(32);

  it('round-trips, never stores the plaintext, and opens only with the same key and endpoint', () => {
    const sealed = sealWebhookSecret(key, 'endpoint-a', 'whsec-0123456789abcdef');
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('whsec');
    expect(sealWebhookSecret(key, 'endpoint-a', 'whsec-0123456789abcdef')).not.toBe(sealed); // fresh IV each time
    expect(openWebhookSecret(key, 'endpoint-a', sealed)).toBe('whsec-0123456789abcdef');
    expect(() => openWebhookSecret(randomBytes(32), 'endpoint-a', sealed)).toThrow();
    expect(() => openWebhookSecret(key, 'endpoint-b', sealed)).toThrow();
    expect(() => openWebhookSecret(key, 'endpoint-a', 'whsec-0123456789abcdef')).toThrow();
  });
});
