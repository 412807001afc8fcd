import { z } from 'zod';
import { invalidField } from '../errors';

/** Slugs of apps and pipelines: lowercase letters, digits and dashes, 1–63 characters, no leading dash. */
export const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function requireSlug(value: string, field = 'slug'): string {
  if (!SLUG.test(value)) {
    throw invalidField(field, `"${truncate(value)}" is not a valid slug; use 1–63 lowercase letters, digits and dashes, starting with a letter or digit (e.g. "billing-bot")`);
  }
  return value;
}

/** Display names (apps, tokens): trimmed, 1–100 characters, no control characters. */
export function requireName(value: string, field = 'name'): string {
  const name = value.trim();
  if (name.length === 0) throw invalidField(field, 'is required; give a descriptive label such as "CI/CD Pipeline"');
  if ([...name].length > 100) throw invalidField(field, `is ${[...name].length} characters long; the limit is 100`);
  if (/\p{Cc}/u.test(name)) throw invalidField(field, 'contains control characters');
  return name;
}

export function truncate(text: string, max = 40): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Human text for the first issue zod found, prefixed by the path of the field. */
export function describeZodError(error: z.ZodError, prefix = ''): { field: string; message: string } {
  const issue = error.issues[0];
  const field = [prefix, ...(issue?.path ?? []).map(String)].filter(Boolean).join('.') || prefix || 'body';
  return { field, message: `${field}: ${issue?.message ?? 'is invalid'}` };
}
