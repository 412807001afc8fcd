import { SLUG, truncate } from '../apps/validation';
import { invalidField } from '../errors';
import { IpRanges, requireIpRanges } from '../ip-ranges';

/**
 * A trigger token's optional controls (SPEC "Token controls and self-service"):
 * - `description`: up to 500 characters of text for people;
 * - `pipelines`: the slugs of its app's pipelines it may trigger (absent: all of them);
 * - `allowed_ips`: the addresses and CIDR ranges it may be used from (absent: anywhere).
 *
 * They are fixed when the token is created and carried over unchanged by a rotation: a token's
 * rights never grow after it was issued (to change them, create a new token and revoke the old).
 * Stored as JSON text (a sorted array of slugs; the canonical ranges in the order given), so the
 * hot path can key its compiled form by the stored text.
 */

export const MAX_DESCRIPTION_LENGTH = 500;
/** The most pipelines one scope names. */
export const MAX_SCOPE_PIPELINES = 100;

/** The controls as a create request gives them; each absent or null means "no restriction". */
export interface ControlsInput {
  description?: string | null | undefined;
  pipelines?: readonly string[] | null | undefined;
  allowedIps?: readonly string[] | null | undefined;
}

/** The controls as stored: null, or JSON text of a non-empty array. */
export interface StoredControls {
  description: string | null;
  pipelines: string | null;
  allowedIps: string | null;
}

/** A description: trimmed, at most 500 characters, no control characters; empty means none. */
export function requireDescription(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw invalidField('description', 'must be text');
  const text = value.trim();
  if (text === '') return null;
  const length = [...text].length;
  if (length > MAX_DESCRIPTION_LENGTH) throw invalidField('description', `is ${length} characters long; the limit is ${MAX_DESCRIPTION_LENGTH}`);
  if (/\p{Cc}/u.test(text)) throw invalidField('description', 'contains control characters (line breaks, tabs); write it on one line');
  return text;
}

/**
 * A pipeline scope: slugs (syntax only; whether the app has them is the service's check), sorted,
 * duplicates removed; null or absent means every pipeline of the app.
 */
export function requirePipelineScope(value: readonly string[] | null | undefined): string[] | null {
  if (value === null || value === undefined) return null;
  if (value.length === 0) throw invalidField('pipelines', 'give at least one pipeline slug, or leave pipelines out to allow every pipeline of the app');
  if (value.length > MAX_SCOPE_PIPELINES) throw invalidField('pipelines', `names ${value.length} pipelines; the limit is ${MAX_SCOPE_PIPELINES}`);
  for (const slug of value) {
    if (typeof slug !== 'string' || !SLUG.test(slug)) {
      const shown = typeof slug === 'string' ? `"${truncate(slug)}"` : 'an entry';
      throw invalidField('pipelines', `${shown} is not a pipeline slug; slugs are 1–63 lowercase letters, digits and dashes (see \`mechamental pipelines list --app <app>\`)`);
    }
  }
  return [...new Set(value)].sort();
}

/** An allow-list: canonical addresses and ranges; null or absent means any address. */
export function requireAllowedIps(value: readonly string[] | null | undefined): string[] | null {
  if (value === null || value === undefined) return null;
  return requireIpRanges(value, 'allowed_ips');
}

/** Validates every control (syntax only) and answers them as stored. */
export function storedControls(input: ControlsInput): StoredControls {
  const pipelines = requirePipelineScope(input.pipelines);
  const allowedIps = requireAllowedIps(input.allowedIps);
  return {
    description: requireDescription(input.description),
    pipelines: pipelines === null ? null : JSON.stringify(pipelines),
    allowedIps: allowedIps === null ? null : JSON.stringify(allowedIps),
  };
}

/** A stored list (JSON text of strings) as an array; null for none. */
export function storedList(text: string | null | undefined): string[] | null {
  return text == null ? null : (JSON.parse(text) as string[]);
}

/** The compiled controls of one token, as the request path checks them. */
export class CompiledControls {
  /** Null: every pipeline of the app. */
  readonly pipelines: ReadonlySet<string> | null;
  /** Null: any address. */
  readonly ips: IpRanges | null;

  constructor(
    readonly pipelinesText: string | null | undefined,
    readonly ipsText: string | null | undefined,
  ) {
    const pipelines = storedList(pipelinesText);
    this.pipelines = pipelines === null ? null : new Set(pipelines);
    const ips = storedList(ipsText);
    this.ips = ips === null ? null : new IpRanges(ips);
  }

  /** Whether this scope lets the token trigger pipeline `slug`. */
  allowsPipeline(slug: string): boolean {
    return this.pipelines === null || this.pipelines.has(slug);
  }

  /** Whether the token may be used from `address`. */
  allowsAddress(address: string): boolean {
    return this.ips === null || this.ips.has(address);
  }
}

/** How many tokens' compiled controls one cache keeps before it starts afresh. */
const CACHE_LIMIT = 10_000;

/**
 * Compiled controls by token id, for the request path: compiled once per token and stored text (an
 * edit of the stored text is a new entry, so a stale compilation is never used), bounded in size.
 * Tokens without controls never reach it (`forToken` answers null without a lookup).
 */
export class ControlsCache {
  private readonly byToken = new Map<string, CompiledControls>();

  /** The compiled controls of a token with these stored texts, or null when it has none. */
  forToken(tokenId: string, pipelinesText: string | null | undefined, ipsText: string | null | undefined): CompiledControls | null {
    // `== null`: a verifier injected by a benchmark or a test may leave the fields out altogether.
    if (pipelinesText == null && ipsText == null) return null;
    let compiled = this.byToken.get(tokenId);
    if (compiled === undefined || compiled.pipelinesText !== pipelinesText || compiled.ipsText !== ipsText) {
      compiled = new CompiledControls(pipelinesText, ipsText);
      if (this.byToken.size >= CACHE_LIMIT) this.byToken.clear();
      this.byToken.set(tokenId, compiled);
    }
    return compiled;
  }
}
