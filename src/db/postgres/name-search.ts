import { sql as dsql, type SQL } from 'drizzle-orm';
import type postgres from 'postgres';
import { tokens } from './schema';

/**
 * The token name search on PostgreSQL ("contains", case-insensitive, LIKE's wildcards taken
 * literally), and which part of the text the trigram index is asked for.
 *
 * pg_trgm answers `lower(name) LIKE '%svc-0003%'` by reading the posting list of every trigram of
 * every word of the text (`svc`, `0003`), and a word that nearly every name holds (`svc` in
 * "svc-0042 deploy") has a posting list of nearly every row: at a million tokens that read was
 * most of a filter keystroke (18 ms of `svc-000`'s 29, and all of `svc-0003`'s 25). pg_trgm keeps no
 * counts to choose the rarer trigrams by, as the SQLite search does with FTS5's. The planner keeps
 * a sample of the names, though (pg_stats: the most common names with their shares, and a histogram
 * of the others), refreshed by every ANALYZE and autovacuum. So when the text has more than one
 * part (`indexableParts`: its words, a short one with the edge beside it), the index is asked only
 * for the part the sample says is the rarest (`lower(name) LIKE '%0003%'`), and every row it finds
 * is then checked for the whole text (`strpos`, which no index serves): the same rows as the plain
 * LIKE, found through shorter posting lists (at a million, warm: `svc-0003` 1.7 ms instead of 25,
 * `svc-000` 17 instead of 29). A text of one part is searched with the plain LIKE; without a sample
 * (a table never analyzed) the longest part is taken. Either way the planner still weighs the index
 * against reading the app's tokens in listing order, with its estimate for that part.
 */
export class NameSearch {
  private sample: Promise<NameSample | undefined> | undefined;
  private sampledAt = -Infinity;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly now: () => number = Date.now,
  ) {}

  /** The WHERE term: `name` contains `text`, case-insensitively. */
  async condition(text: string): Promise<SQL> {
    const lowered = text.toLowerCase();
    const part = await this.indexPart(lowered);
    if (part === undefined) return dsql`lower(${tokens.name}) LIKE ${likePattern(lowered)} ESCAPE '\\'`;
    return dsql`lower(${tokens.name}) LIKE ${likePattern(part)} ESCAPE '\\' AND strpos(lower(${tokens.name}), ${lowered}) > 0`;
  }

  /** Which part of `text` the index is asked for (undefined: the whole text, with the plain LIKE). */
  async indexPart(text: string): Promise<string | undefined> {
    const lowered = text.toLowerCase();
    const parts = indexableParts(lowered);
    if (parts.length === 0 || (parts.length === 1 && parts[0] === lowered)) return undefined;
    const part = rarest(parts, await this.currentSample());
    return part === lowered ? undefined : part;
  }

  /** The planner's sample of names, read again every SAMPLE_TTL_MS (it changes with ANALYZE only). */
  private currentSample(): Promise<NameSample | undefined> {
    const now = this.now();
    if (this.sample === undefined || now - this.sampledAt > SAMPLE_TTL_MS) {
      this.sampledAt = now;
      this.sample = readSample(this.sql).catch(() => undefined);
    }
    return this.sample;
  }
}

/** How long a read sample of names is used before it is read again. */
const SAMPLE_TTL_MS = 5 * 60_000;

/** Names with the share of rows each stands for. */
type NameSample = ReadonlyArray<{ name: string; share: number }>;

async function readSample(sql: postgres.Sql): Promise<NameSample | undefined> {
  const [row] = await sql<Array<{ mcv: string[] | null; freqs: number[] | null; bounds: string[] | null; nullFrac: number }>>`
    SELECT most_common_vals::text::text[] AS mcv, most_common_freqs AS freqs, histogram_bounds::text::text[] AS bounds, null_frac AS "nullFrac"
      FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'tokens' AND attname = 'name'`;
  if (!row) return undefined;
  const sample: Array<{ name: string; share: number }> = [];
  let common = 0;
  (row.mcv ?? []).forEach((name, i) => {
    const share = row.freqs?.[i] ?? 0;
    common += share;
    sample.push({ name: name.toLowerCase(), share });
  });
  // Each histogram bound stands for an equal part of the rows that are not among the most common.
  const bounds = row.bounds ?? [];
  const each = bounds.length === 0 ? 0 : Math.max(0, 1 - common - row.nullFrac) / bounds.length;
  for (const name of bounds) sample.push({ name: name.toLowerCase(), share: each });
  return sample.length === 0 ? undefined : sample;
}

/**
 * The parts of `text` the index could be asked for: its words as pg_trgm splits it (letters and
 * digits; anything else ends a word). A word of three characters or more is a part as it is
 * (`0003`: the trigrams `000`, `003`); a shorter one gives pg_trgm a trigram only with the word's
 * edge beside it, so it is a part with the characters around it (`-00`: a word that starts with
 * `00`); a short word with no such edge (the whole text is one) gives none and is not a part.
 */
function indexableParts(text: string): string[] {
  const parts = new Set<string>();
  for (const match of text.matchAll(/[\p{L}\p{N}]+/gu)) {
    const word = match[0];
    const start = match.index;
    const end = start + word.length;
    if ([...word].length >= 3) parts.add(word);
    else if (start > 0 || end < text.length) parts.add(text.slice(Math.max(0, start - 1), Math.min(text.length, end + 1)));
  }
  return [...parts];
}

/** The part the sample finds in the fewest names (on a tie, or without a sample, the longest). */
function rarest(words: readonly string[], sample: NameSample | undefined): string {
  const share = (word: string) => (sample ? sample.reduce((sum, entry) => (entry.name.includes(word) ? sum + entry.share : sum), 0) : 0);
  let best = words[0]!;
  let bestShare = share(best);
  for (const word of words.slice(1)) {
    const s = share(word);
    if (s < bestShare || (s === bestShare && word.length > best.length)) {
      best = word;
      bestShare = s;
    }
  }
  return best;
}

/** `%text%` with LIKE's wildcards (and its escape character) in `text` taken literally. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
