import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AppError, isAppError } from '../errors';
import { MAX_PAGE_LIMIT, pageLimit, type Page } from '../paging';
import type { CommandContext, OptionSpecs } from './context';
import { table, tableLine, tableWidths } from './format';

/** The options of every paged list command. */
export const PAGING_OPTIONS: OptionSpecs = {
  limit: { type: 'string' },
  cursor: { type: 'string' },
  all: { type: 'boolean' },
};

/** `--help` text for them (`what`: "tokens", "events"; `one`: one of them; `defaultLimit`: one page's size by default). */
export function pagingHelp(what: string, defaultLimit: number, one = what.replace(/s$/, '')): string {
  return [
    `Paging (newest first): one page of ${defaultLimit} ${what} by default; when more follow, stderr says how to get the next page.`,
    `  --limit N     one page of N ${what} (1 to ${MAX_PAGE_LIMIT}); with --all, how many to fetch at a time (default ${MAX_PAGE_LIMIT})`,
    `  --cursor C    the page that starts after the next_cursor C of the previous page`,
    `  --all         every page, printed as each arrives (constant memory, however many ${what})`,
    `Output: a table, or with --json one object {"${what}": […], "next_cursor": "…" | null};`,
    `  --all --json prints JSON Lines: one ${one} object per line, nothing else (e.g. | jq -c 'select(.status == "active")').`,
  ].join('\n');
}

export interface PagedList<T> {
  /** One page: `cursor` is where it starts (undefined: the first page). */
  fetch(cursor: string | undefined, limit: number): Promise<Page<T>>;
  /** The key of the items in the one-page JSON answer, as in the HTTP API (`tokens`, `events`). */
  jsonKey: string;
  headers: string[];
  cells(item: T): string[];
  /** What to say when the list is empty (on a first page; a later page that is empty says nothing). */
  empty: string;
  /** The command line that shows this list again, for the "next page" note (without --limit/--cursor). */
  again: string;
  /** The page size without --limit. */
  defaultLimit: number;
}

/** Stops the output quietly: the reader went away (e.g. `| head`). */
class ReaderGone extends Error {}

/**
 * Prints a list page by page: one page (`--limit`, `--cursor`), or with `--all` every page as it
 * arrives, so that memory stays the same for a thousand rows or a million. Writes wait for the
 * output to drain (a slow reader slows the listing down instead of filling memory); when the reader
 * goes away (EPIPE) the listing stops quietly.
 */
export async function printPaged<T>(ctx: CommandContext, list: PagedList<T>): Promise<void> {
  // --all reads the largest pages (fewer round trips; memory is still one page) unless told.
  const limit = limitOption(ctx, ctx.flag('all') ? MAX_PAGE_LIMIT : list.defaultLimit);
  let cursor = ctx.string('cursor');
  if (cursor === '') throw new AppError('usage', `${ctx.command.name}: --cursor needs the next_cursor of a previous page`);
  const fetch = async (at: string | undefined, size: number) => {
    try {
      return await list.fetch(at, size);
    } catch (error) {
      // A cursor is given on the command line: a bad one is a usage error.
      if (isAppError(error) && error.code === 'validation_failed' && (error.details as { field?: string } | undefined)?.field === 'cursor') {
        throw new AppError('usage', `${ctx.command.name}: ${error.message.replace(/^cursor: /, '--cursor ')}`);
      }
      throw error;
    }
  };
  const out = new Output(ctx.io.stdout);
  try {
    if (!ctx.flag('all')) {
      const page = await fetch(cursor, limit);
      if (ctx.json) await out.write(`${JSON.stringify({ [list.jsonKey]: page.items, next_cursor: page.nextCursor }, null, 2)}\n`);
      else if (page.items.length === 0) await out.write(`${cursor === undefined ? list.empty : 'No more.'}\n`);
      else await out.write(`${table(list.headers, page.items.map(list.cells))}\n`);
      if (page.nextCursor) {
        ctx.err(`More follow: the next page is  ${list.again} --limit ${limit} --cursor ${page.nextCursor}  (or --all for every page)`);
      }
      return;
    }
    let widths: number[] | undefined;
    let printed = 0;
    const keeper = new HeapKeeper();
    do {
      const page = await fetch(cursor, limit);
      if (ctx.json) {
        if (page.items.length > 0) await out.write(`${page.items.map((item) => JSON.stringify(item)).join('\n')}\n`);
      } else if (page.items.length > 0) {
        const rows = page.items.map(list.cells);
        // The first page sets the column widths; later rows that are wider push their line out
        // (the table is printed before the rest exists).
        if (!widths) {
          widths = tableWidths(list.headers, rows);
          await out.write(`${tableLine(list.headers, widths)}\n`);
        }
        await out.write(`${rows.map((row) => tableLine(row, widths!)).join('\n')}\n`);
      }
      printed += page.items.length;
      cursor = page.nextCursor ?? undefined;
      keeper.afterPage();
    } while (cursor !== undefined);
    if (printed === 0 && !ctx.json && ctx.string('cursor') === undefined) await out.write(`${list.empty}\n`);
  } catch (error) {
    if (error instanceof ReaderGone) return;
    throw error;
  }
}

/** `--limit`: 1 to 1000, else a usage error that says so. */
function limitOption(ctx: CommandContext, fallback: number): number {
  const text = ctx.string('limit');
  if (text === undefined) return fallback;
  try {
    if (text.trim() === '') throw new Error('empty');
    return pageLimit(text);
  } catch {
    throw new AppError('usage', `${ctx.command.name}: --limit must be a whole number from 1 to ${MAX_PAGE_LIMIT} (got "${text.slice(0, 20)}")`);
  }
}

/** Writes that wait for the stream to drain, and notice a reader that went away. */
class Output {
  private gone: Error | undefined;
  private readonly onError = (error: Error) => {
    this.gone = error;
  };

  constructor(private readonly stream: NodeJS.WritableStream) {
    // Left attached: a late EPIPE must not become an uncaught exception.
    stream.on('error', this.onError);
  }

  async write(text: string): Promise<void> {
    this.check();
    if (!this.stream.write(text)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.stream.off('drain', done);
          this.stream.off('error', done);
          this.stream.off('close', done);
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('error', done);
        this.stream.on('close', done);
      });
    }
    this.check();
  }

  private check(): void {
    if (!this.gone) return;
    if ((this.gone as NodeJS.ErrnoException).code === 'EPIPE') throw new ReaderGone();
    throw this.gone;
  }
}

/**
 * Keeps an `--all` listing's memory flat. V8 grows its young generation (to 3 × 16 MB) and lets
 * garbage pile up in the old one before it collects; a listing of a million rows makes garbage at
 * a steady rate and keeps almost none of it (one page), so this process's peak grew with the row
 * count (docs/growth.md). So a listing keeps the young generation at its starting size (a V8 flag
 * read at each scavenge, so it takes effect when set) and collects the old one itself after a page
 * once the heap holds more than 24 MB (a full collection of ~20 MB takes a few ms, once per several
 * pages); when more than that is live, once it holds 8 MB more than is live, so that it never
 * collects after every page.
 */
class HeapKeeper {
  private gc: (() => void) | undefined;
  private threshold = HEAP_KEEPER_START_BYTES;

  constructor() {
    setFlagsFromString('--semi-space-growth-factor=1');
  }

  /** After a page was written: collect now if the heap holds more than the threshold. */
  afterPage(): void {
    if (getHeapStatistics().used_heap_size < this.threshold) return;
    if (this.gc === undefined) {
      setFlagsFromString('--expose-gc');
      this.gc = runInNewContext('gc') as () => void;
    }
    this.gc();
    this.threshold = Math.max(HEAP_KEEPER_START_BYTES, getHeapStatistics().used_heap_size + HEAP_KEEPER_HEADROOM_BYTES);
  }
}

/** The heap an `--all` listing may hold before it collects (bytes)… */
const HEAP_KEEPER_START_BYTES = 24 * 1_048_576;
/** …or, when more than that is live, this much more than is live (a few pages' garbage). */
const HEAP_KEEPER_HEADROOM_BYTES = 8 * 1_048_576;
