import { describe, expect, it } from '@jest/globals';
import { ID_PATTERN, newId } from './id.js';

describe('newId', () => {
  it('is a version 7 UUID whose first 48 bits are the milliseconds', () => {
    const at = Date.UTC(2026, 10, 23, 18, 5, 0, 123);
    const id = newId(at);
    expect(id).toMatch(ID_PATTERN);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
    expect(id[14]).toBe('7');
    expect(['8', '9', 'a', 'b']).toContain(id[19]);
  });

  it('sorts by time across milliseconds, and does not repeat over many ids drawn from the random pool', () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => newId(1_795_000_000_000 + Math.floor(i / 1000)));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1000; i < ids.length; i += 1000) expect(ids[i - 1] < ids[i]).toBe(true);
    // the 74 random bits are spread: every hex digit shows up in the last group
    expect(new Set(ids.map((id) => id[35])).size).toBe(16);
  });
});
