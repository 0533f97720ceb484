import { randomFillSync } from 'node:crypto';

/** Random bytes for this many ids are drawn at once: one call into the CSPRNG per 256 ids instead of one per id. */
const POOL_IDS = 256;
const pool = Buffer.allocUnsafe(16 * POOL_IDS);
let offset = pool.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Time-ordered UUID (version 7): opaque to clients, yet inserts append to the primary key index
 * instead of scattering across it as random UUIDs do. 48 bits of milliseconds, then 74 random bits.
 */
export function newId(now: number = Date.now()): string {
  if (offset >= pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const r = offset;
  offset += 16;
  const hi = Math.floor(now / 2 ** 32);
  const lo = now >>> 0;
  return (
    HEX[(hi >>> 8) & 0xff] +
    HEX[hi & 0xff] +
    HEX[lo >>> 24] +
    HEX[(lo >>> 16) & 0xff] +
    '-' +
    HEX[(lo >>> 8) & 0xff] +
    HEX[lo & 0xff] +
    '-' +
    HEX[(pool[r + 6] & 0x0f) | 0x70] +
    HEX[pool[r + 7]] +
    '-' +
    HEX[(pool[r + 8] & 0x3f) | 0x80] +
    HEX[pool[r + 9]] +
    '-' +
    HEX[pool[r + 10]] +
    HEX[pool[r + 11]] +
    HEX[pool[r + 12]] +
    HEX[pool[r + 13]] +
    HEX[pool[r + 14]] +
    HEX[pool[r + 15]]
  );
}

export const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
