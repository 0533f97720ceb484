import { ValidateBy, type ValidationOptions } from 'class-validator';

/** A TEXT column holds 65,535 bytes; JSON stored in one must fit once serialised (UTF-8). */
export const TEXT_COLUMN_BYTES = 65_535;

/**
 * The value, serialised as JSON, takes at most `bytes` bytes of UTF-8: for free-form objects stored in a TEXT column
 * (handoff terms, timer policies), which the database would otherwise refuse with a 500.
 */
export function MaxJsonBytes(bytes: number = TEXT_COLUMN_BYTES, options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'maxJsonBytes',
      constraints: [bytes],
      validator: {
        validate: (v: unknown) => v === undefined || v === null || Buffer.byteLength(JSON.stringify(v) ?? '') <= bytes,
        defaultMessage: (args) => `${args?.property ?? 'value'} must take at most ${bytes} bytes as JSON`,
      },
    },
    options,
  );
}
