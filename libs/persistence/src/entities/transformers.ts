import type { ValueTransformer } from 'typeorm';

/** BIGINT fen columns: the driver may hand back strings; the domain works in safe integers only. */
export const fenTransformer: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | number | null) => {
    if (v === null || v === undefined) return v;
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isSafeInteger(n)) throw new Error(`Amount ${v} exceeds the safe integer range`);
    return n;
  },
};
