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

/** JSON stored in a LONGTEXT/TEXT column (portable across MariaDB and MySQL). */
export const jsonTransformer: ValueTransformer = {
  to: (v: unknown) => (v === undefined ? undefined : v === null ? null : JSON.stringify(v)),
  from: (v: string | null) => (v === null || v === undefined ? v : JSON.parse(v)),
};

/** Comma-separated list of codes. */
export const csvTransformer: ValueTransformer = {
  to: (v: string[] | undefined) => (v === undefined ? undefined : v.join(',')),
  from: (v: string | null) => (v ? v.split(',') : []),
};

/** A JSON object column's type. `any` values, because TypeORM's partial-entity types reject `unknown` ones. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonObject = Record<string, any>;
