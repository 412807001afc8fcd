import type Database from 'better-sqlite3';
import type { TokenCountQuery, TokenKey, TokenQuery, TokenRow } from '../store';

/**
 * The token listing and its counts on SQLite, in SQL written out so that each query names the index
 * it reads (`INDEXED BY`): SQLite's planner has no statistics here and would otherwise guess, and a
 * wrong guess on a million rows is a scan. Every plan below was checked with EXPLAIN QUERY PLAN
 * (test/db/token-listing-plans.test.ts).
 *
 * Indexes (migrations 0005 to 0007):
 * - `tokens_app_created` (app_id, created_at, id, name): the listing order of an app's tokens (admin
 *   tokens are app_id NULL), with the names that a search examines (migration 0007).
 * - `tokens_app_live` (app_id, created_at, id, expires_at) WHERE revoked_at IS NULL, and
 *   `tokens_app_revoked` (…) WHERE revoked_at IS NOT NULL: the status filters in listing order; the
 *   expiry is read from the index, so rows of another status are skipped without reading the table.
 * - `tokens_app_expiry` (app_id, expires_at) WHERE revoked_at IS NULL: counts of active and
 *   expired tokens as ranges.
 * - `tokens_name_search`: an FTS5 trigram table of the names, keyed by rowid (the name search).
 *
 * The name search ("contains", case-insensitive, LIKE's wildcards taken literally) is answered in
 * two steps, because no single plan is fast both for a text that most names contain and for one
 * that few do: first the rows in listing order are examined, at most PROBE_ROWS of them (a common
 * text fills the page there), and more when the matches among them say the page will fill soon
 * (EXTENDED_PROBE_ROWS); if the page is not full by then, the rest comes from the trigram
 * index (texts of 3 characters or more), whose matches are then few enough to sort. Either way each
 * row is checked with the same LIKE, so both steps agree on what matches.
 */

/** Rows examined in listing order before a search turns to the trigram index. */
const PROBE_ROWS = 2_000;
/**
 * When the matches among the first PROBE_ROWS say that the page will be full within this many more
 * rows, those are read in listing order too (twice the estimate, at most this), before the trigram
 * index. A text in 2 % of a million names fills a page of 100 within ~5,000 rows (a few ms), where
 * the trigram index would check a phrase whose first trigrams are in every name (~300 ms); one in
 * 0.2 % within ~50,000, examined from the listing index alone (it holds the names) in ~12 ms.
 */
const EXTENDED_PROBE_ROWS = 100_000;
/** The same where the status's index does not hold the names and each row is read from the table. */
const UNCOVERED_PROBE_ROWS = 20_000;
/** The listing index that holds the names (migration 0007). */
const COVERING_LISTING_INDEX = 'tokens_app_created';
/** The trigram index answers for search texts of at least this many characters. */
const TRIGRAM = 3;

/** How a search probes and then reads the trigram index (the defaults below; tests set small ones). */
export interface SearchTuning {
  /** PROBE_ROWS */
  probeRows: number;
  /** EXTENDED_PROBE_ROWS */
  extendedProbeRows: number;
  /**
   * A trigram in at least this many names is common, and its list of names is not read when the
   * search text has rarer ones: at a million names of the growth bench, `svc-000` is found through
   * `000` (2,846 names), not through `svc` and `vc-` (every name).
   */
  commonTrigram: number;
  /**
   * Up to this many names hold the rarer trigrams: they are read and sorted. More: the listing's
   * index is walked in order and the names among them kept (the index holds each row's creation
   * and id, so no row is read for the order), which finds a page of them sooner.
   */
  sortBelow: number;
  /** The most index entries one walk reads; beyond, the search reads and sorts what is left. */
  walkRows: number;
}

const SEARCH_TUNING: SearchTuning = { probeRows: PROBE_ROWS, extendedProbeRows: EXTENDED_PROBE_ROWS, commonTrigram: 10_000, sortBelow: 1_000, walkRows: 200_000 };

const COLUMNS = `id, kind, app_id AS appId, name, hash, hint, created_at AS createdAt, expires_at AS expiresAt, revoked_at AS revokedAt,
  last_used_at AS lastUsedAt, rate_limit AS rateLimit, replaced_by AS replacedBy, description, pipelines, allowed_ips AS allowedIps, last_used_ip AS lastUsedIp`;

type Param = string | number;

/** A query's WHERE terms (for table `t`) and their parameters. */
interface Terms {
  sql: string[];
  params: Param[];
}

function ownerTerms(query: TokenCountQuery, terms: Terms): void {
  if (query.owner === 'admin') terms.sql.push('t.app_id IS NULL');
  else {
    terms.sql.push('t.app_id = ?');
    terms.params.push(query.owner.appId);
  }
}

function statusTerms(query: TokenCountQuery, terms: Terms): void {
  const { now, expiring } = query;
  switch (query.status) {
    case undefined:
      return;
    case 'revoked':
      terms.sql.push('t.revoked_at IS NOT NULL');
      return;
    case 'expired':
      terms.sql.push('t.revoked_at IS NULL', 't.expires_at <= ?');
      terms.params.push(now);
      return;
    case 'active':
      terms.sql.push('t.revoked_at IS NULL', 't.expires_at > ?');
      terms.params.push(now);
      return;
    case 'expiring':
      terms.sql.push(
        't.revoked_at IS NULL',
        't.expires_at > ?',
        't.expires_at <= ?',
        '(t.replaced_by IS NOT NULL OR t.created_at + (t.expires_at - t.created_at) * ? <= ?)',
      );
      terms.params.push(now, now + expiring.windowMs, expiring.lifetimeFraction, now);
  }
}

/** Active at `now`, created at or before `since`, and not used since then (or never): see TokenQuery.unusedSince. */
function unusedTerms(query: TokenCountQuery, terms: Terms): void {
  if (query.unusedSince === undefined) return;
  terms.sql.push('t.revoked_at IS NULL', 't.expires_at > ?', 't.created_at <= ?', '(t.last_used_at IS NULL OR t.last_used_at <= ?)');
  terms.params.push(query.now, query.unusedSince, query.unusedSince);
}

/** LIKE pattern for "contains `text`", lower-cased, with LIKE's wildcards in `text` escaped. */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * The search as SQL: `name LIKE '%text%'`. SQLite's LIKE ignores the case of ASCII letters, and its
 * lower() changes only those (no ICU here), so `lower(name) LIKE p` finds the very same rows; the
 * lower() call cost half of each row examined (a probe of 8,000 rows: 7 ms with it, 3 without).
 */
function searchTerm(search: string, terms: Terms): void {
  terms.sql.push(`t.name LIKE ? ESCAPE '\\'`);
  terms.params.push(containsPattern(search));
}

/** A phrase for FTS5 MATCH: the text as one quoted string (its trigrams, adjacent). */
function matchPhrase(search: string): string {
  return `"${search.replace(/"/g, '""')}"`;
}

function keysetTerms(after: TokenKey | undefined, before: TokenKey | undefined, terms: Terms): void {
  if (after) {
    terms.sql.push('(t.created_at, t.id) < (?, ?)');
    terms.params.push(after.createdAt, after.id);
  }
  if (before) {
    terms.sql.push('(t.created_at, t.id) > (?, ?)');
    terms.params.push(before.createdAt, before.id);
  }
}

/** The index that holds a status's rows in listing order. */
function listingIndex(status: TokenQuery['status'], unused: boolean): string {
  if (status === undefined) return unused ? 'tokens_app_live' : 'tokens_app_created';
  return status === 'revoked' ? 'tokens_app_revoked' : 'tokens_app_live';
}

/** The index a count of a status reads. */
function countingIndex(status: TokenQuery['status'], unused: boolean): string {
  if (status === undefined) return unused ? 'tokens_app_live' : 'tokens_app_created';
  return status === 'revoked' ? 'tokens_app_revoked' : 'tokens_app_expiry';
}

function where(terms: Terms): string {
  return terms.sql.length === 0 ? '' : `WHERE ${terms.sql.join(' AND ')}`;
}

function orderBy(from: TokenQuery['from']): string {
  return from === 'oldest' ? 'ORDER BY t.created_at ASC, t.id ASC' : 'ORDER BY t.created_at DESC, t.id DESC';
}

/** The trigram index applies to this search text. */
function trigramSearch(search: string | undefined): search is string {
  return search !== undefined && [...search].length >= TRIGRAM;
}

/**
 * Lists and counts tokens on one connection. Statements are prepared once per shape and kept (the
 * shapes are few: owner × status × search × paging).
 */
export class SqliteTokenListing {
  private readonly statements = new Map<string, Database.Statement>();
  /**
   * Whether a trigram is rare, by trigram. Which trigrams are rare changes only slowly with the
   * data, and either answer finds the same rows (each is checked with LIKE), so an answer is kept:
   * a page and its count ask about the same text in turn, and a text typed letter by letter asks
   * about the same trigrams again (`svc-000` after `svc-00`); counting a common one reads
   * commonTrigram entries.
   */
  private readonly rareTrigrams = new Map<string, boolean>();

  constructor(
    private readonly sqlite: Database.Database,
    private readonly tuning: SearchTuning = SEARCH_TUNING,
  ) {}

  private prepare(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.sqlite.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  list(query: TokenQuery): TokenRow[] {
    const limit = query.limit ?? -1;
    if (!query.search) return this.scan(query, undefined, limit);
    const search = query.search;
    const wanted = limit < 0 ? Infinity : limit;
    const pattern = containsPattern(search);
    const hits: number[] = [];
    let examined = 0;
    let window = this.tuning.probeRows;
    let next: TokenQuery = query;
    for (;;) {
      // Step 1: rows in listing order, PROBE_ROWS of them, then (step 1b) as many more as the rate
      // of matches so far says will fill the page, up to EXTENDED_PROBE_ROWS (fewer where each row
      // examined is read from the table: UNCOVERED_PROBE_ROWS).
      const terms = this.selection(next, next.after, next.before);
      const index = listingIndex(query.status, query.unusedSince !== undefined);
      // The rows are examined in SQL and only the matches come back, no more than the page needs
      // (the walk stops at the last one): thousands of rows handed to JavaScript cost more than
      // examining them (6,000 rows: 12–17 ms as rows, 2 ms in SQL).
      const found = this.prepare(
        `SELECT r FROM (SELECT t.rowid AS r, t.name AS n FROM tokens AS t INDEXED BY ${index} ${where(terms)} ${orderBy(query.from)} LIMIT ?) WHERE n LIKE ? ESCAPE '\\' LIMIT ?`,
      )
        .pluck()
        .all(...terms.params, window, pattern, limit < 0 ? -1 : wanted - hits.length) as number[];
      hits.push(...found);
      if (hits.length >= wanted) return this.byRowids(hits.slice(0, wanted), query.from);
      // Fewer than wanted: the whole window was examined. Its last row is where the rest begins
      // (none: the list ended within it).
      const edge = this.prepare(`SELECT t.created_at, t.id FROM tokens AS t INDEXED BY ${index} ${where(terms)} ${orderBy(query.from)} LIMIT 1 OFFSET ?`)
        .raw()
        .get(...terms.params, window - 1) as [number, string] | undefined;
      if (edge === undefined) return this.byRowids(hits, query.from);
      examined += window;
      const beyond: TokenKey = { createdAt: edge[0], id: edge[1] };
      next = query.from === 'oldest' ? { ...query, search, before: beyond } : { ...query, search, after: beyond };
      const needed = hits.length === 0 ? Infinity : ((wanted - hits.length) * examined) / hits.length;
      const most = index === COVERING_LISTING_INDEX ? this.tuning.extendedProbeRows : Math.min(this.tuning.extendedProbeRows, UNCOVERED_PROBE_ROWS);
      if (examined > this.tuning.probeRows || needed > most) break;
      window = Math.min(most, Math.ceil(needed * 2));
    }
    // Step 2: what lies beyond the examined rows, in the same order.
    const found = this.byRowids(hits.slice(0, Math.min(hits.length, wanted)), query.from);
    const rest = limit < 0 ? -1 : limit - found.length;
    const continued = next as TokenQuery & { search: string };
    return [...found, ...(trigramSearch(search) ? this.beyondProbe(continued, rest) : this.scan(continued, search, rest))];
  }

  /**
   * Step 2 of a search of 3 characters or more: the rows after the probed ones, through the
   * trigram index. When the text has trigrams rarer than SearchTuning.commonTrigram, only those
   * are matched (as the phrases of their runs in the text); their names are then sorted when few,
   * or found by walking the listing's index when many. Every row is checked with the same LIKE
   * before it is answered, as the trigrams alone may match a name that does not hold the text.
   */
  private beyondProbe(query: TokenQuery & { search: string }, limit: number): TokenRow[] {
    const rare = this.rarePhrases(query.search);
    if (rare === undefined || limit < 0 || this.countMatches(rare, this.tuning.sortBelow + 1) <= this.tuning.sortBelow) return this.trigram(query, limit, this.matchExpression(query.search));
    const rows: TokenRow[] = [];
    let next = query;
    for (;;) {
      const wanted = limit - rows.length;
      const terms = this.selection(next, next.after, next.before);
      // The inner query reads at most walkRows entries of the index in listing order (covering: no
      // row is read); the outer one keeps those whose names match, the first `wanted` of them.
      const candidates = this.prepare(
        `SELECT r, c, i FROM (SELECT t.rowid AS r, t.created_at AS c, t.id AS i FROM tokens AS t INDEXED BY ${listingIndex(query.status, query.unusedSince !== undefined)} ${where(terms)} ${orderBy(query.from)} LIMIT ?) ` +
          `WHERE r IN (SELECT rowid FROM tokens_name_search WHERE tokens_name_search MATCH ?) LIMIT ?`,
      )
        .raw()
        .all(...terms.params, this.tuning.walkRows, rare, wanted) as Array<[number, number, string]>;
      rows.push(...this.byRowids(candidates.map((c) => c[0]), query.from, query.search));
      const last = candidates.at(-1);
      const beyond: TokenKey | undefined = last && { createdAt: last[1], id: last[2] };
      const after: TokenQuery & { search: string } = beyond === undefined ? next : query.from === 'oldest' ? { ...next, before: beyond } : { ...next, after: beyond };
      // Fewer candidates than wanted: the walk's window (or the list) ended first. Every entry up
      // to the last candidate was walked, so the rest comes, sorted, from after it.
      if (candidates.length < wanted) return [...rows, ...this.trigram(after, limit - rows.length, rare)];
      // As many as wanted, but some names only held the trigrams: walk on after the last candidate.
      if (rows.length >= limit) return rows;
      next = after;
    }
  }

  /**
   * The MATCH expression of a search's rarer trigrams: the phrases of the runs of its trigrams that
   * are in fewer than commonTrigram names, joined with AND; undefined when every trigram is common.
   */
  private rarePhrases(search: string): string | undefined {
    const chars = [...search];
    const runs: string[] = [];
    let start = -1;
    for (let i = 0; i + TRIGRAM <= chars.length + 1; i++) {
      const rare = i + TRIGRAM <= chars.length && this.isRare(chars.slice(i, i + TRIGRAM).join(''));
      if (rare && start < 0) start = i;
      if (!rare && start >= 0) {
        runs.push(matchPhrase(chars.slice(start, i - 1 + TRIGRAM).join('')));
        start = -1;
      }
    }
    return runs.length === 0 ? undefined : runs.join(' AND ');
  }

  /** Whether fewer than commonTrigram names hold `trigram` (answers kept: see rareTrigrams). */
  private isRare(trigram: string): boolean {
    let rare = this.rareTrigrams.get(trigram);
    if (rare === undefined) {
      if (this.rareTrigrams.size >= 1_000) this.rareTrigrams.clear();
      rare = this.countMatches(matchPhrase(trigram), this.tuning.commonTrigram) < this.tuning.commonTrigram;
      this.rareTrigrams.set(trigram, rare);
    }
    return rare;
  }

  /** What the trigram index is asked for a search: its rarer trigrams' phrases, or else the whole text as one phrase. */
  private matchExpression(search: string): string {
    return this.rarePhrases(search) ?? matchPhrase(search);
  }

  /** How many names match an FTS expression, counting up to `atMost`. */
  private countMatches(expression: string, atMost: number): number {
    return (this.prepare('SELECT count(*) AS n FROM (SELECT 1 FROM tokens_name_search WHERE tokens_name_search MATCH ? LIMIT ?)').get(expression, atMost) as { n: number }).n;
  }

  /** The rows of `rowids` (those whose names hold `search`, when given), in the listing order (or oldest first). */
  private byRowids(rowids: number[], from: TokenQuery['from'], search?: string): TokenRow[] {
    if (rowids.length === 0) return [];
    const terms: Terms = { sql: ['t.rowid IN (SELECT value FROM json_each(?))'], params: [JSON.stringify(rowids)] };
    if (search !== undefined) searchTerm(search, terms);
    return this.prepare(`SELECT ${COLUMNS} FROM tokens AS t ${where(terms)} ${orderBy(from)}`).all(...terms.params) as TokenRow[];
  }

  private selection(query: TokenCountQuery, after: TokenKey | undefined, before: TokenKey | undefined): Terms {
    const terms: Terms = { sql: [], params: [] };
    ownerTerms(query, terms);
    statusTerms(query, terms);
    unusedTerms(query, terms);
    keysetTerms(after, before, terms);
    return terms;
  }

  /** Rows in listing order from the status's index, optionally searched by a plain LIKE. */
  private scan(query: TokenQuery, search: string | undefined, limit: number): TokenRow[] {
    const terms = this.selection(query, query.after, query.before);
    if (search !== undefined) searchTerm(search, terms);
    return this.prepare(`SELECT ${COLUMNS} FROM tokens AS t INDEXED BY ${listingIndex(query.status, query.unusedSince !== undefined)} ${where(terms)} ${orderBy(query.from)} LIMIT ?`).all(
      ...terms.params,
      limit,
    ) as TokenRow[];
  }

  /** Rows whose names hold the search text, found by the trigram index (`expression` matched), then sorted. */
  private trigram(query: TokenQuery & { search: string }, limit: number, expression: string): TokenRow[] {
    const terms = this.selection(query, query.after, query.before);
    searchTerm(query.search, terms);
    // CROSS JOIN: SQLite keeps the written order, so the matches drive and each is one rowid lookup.
    return this.prepare(
      `SELECT ${COLUMNS} FROM (SELECT rowid AS r FROM tokens_name_search WHERE tokens_name_search MATCH ?) AS m CROSS JOIN tokens AS t ON t.rowid = m.r ${where(terms)} ${orderBy(query.from)} LIMIT ?`,
    ).all(expression, ...terms.params, limit) as TokenRow[];
  }

  /** How many tokens `query` selects, up to `atMost` (Infinity: exact). */
  count(query: TokenCountQuery, atMost: number): number {
    const terms = this.selection(query, undefined, undefined);
    const cap = Number.isFinite(atMost) ? atMost : -1;
    if (query.search) {
      searchTerm(query.search, terms);
      if (trigramSearch(query.search)) {
        return (
          this.prepare(
            `SELECT count(*) AS n FROM (SELECT 1 FROM (SELECT rowid AS r FROM tokens_name_search WHERE tokens_name_search MATCH ?) AS m CROSS JOIN tokens AS t ON t.rowid = m.r ${where(terms)} LIMIT ?)`,
          ).get(this.matchExpression(query.search), ...terms.params, cap) as { n: number }
        ).n;
      }
      return (this.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM tokens AS t INDEXED BY ${listingIndex(query.status, query.unusedSince !== undefined)} ${where(terms)} LIMIT ?)`).get(...terms.params, cap) as { n: number }).n;
    }
    return (this.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM tokens AS t INDEXED BY ${countingIndex(query.status, query.unusedSince !== undefined)} ${where(terms)} LIMIT ?)`).get(...terms.params, cap) as { n: number }).n;
  }
}
