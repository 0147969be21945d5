import type { ErrorObject } from 'ajv';
import { excerpt } from './excerpt.js';

/**
 * Nova's wording: "Invalid input for field/attribute <path>. Value: <value>. <reason>". The
 * value is shown once and cut short: an error never echoes unbounded input.
 */
export function describe(error: ErrorObject, body: unknown): string {
  const path = error.instancePath.split('/').filter(Boolean);
  let value: unknown = body;
  for (const part of path) value = (value as Record<string, unknown> | undefined)?.[part];
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  const reason = error.keyword === 'required'
    ? `'${excerpt(params.missingProperty)}' is a required property`
    : error.keyword === 'additionalProperties'
      ? `Additional properties are not allowed ('${excerpt(params.additionalProperty)}' was unexpected)`
      : `It ${error.message ?? 'is invalid'}`;
  return `Invalid input for field/attribute ${excerpt(path.join('/') || 'body')}. Value: ${excerpt(JSON.stringify(value ?? null))}. ${reason}`;
}
