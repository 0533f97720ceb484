import { ValidateIf } from 'class-validator';

/**
 * For PATCH bodies: the field may be left out, but when present it is validated — `null` included, so a client
 * cannot null a required column (class-validator's IsOptional would let `null` through).
 */
export const Optional = () => ValidateIf((_o, v) => v !== undefined);
