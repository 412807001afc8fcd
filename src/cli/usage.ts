import { AppError } from '../errors';
import { MAX_USAGE_DAYS, usageDays } from '../tokens/usage-report';
import { describeReasons, sparkline } from '../ui-text/sparkline';
import type { Command } from './context';
import { table } from './format';

/** `tokens usage`: a token's requests per UTC day with sparklines (docs/usage-and-webhooks.md). */
export const tokenUsageCommand: Command = {
  name: 'tokens usage',
  summary: "show a token's requests per day: accepted, and refused by reason",
  usage: `tokens usage TOKEN_ID [--days 30] [--json]`,
  help: [
    `Counts per UTC day for the last --days days (1 to ${MAX_USAGE_DAYS}, default 30; kept MM_USAGE_RETENTION, 90d).`,
    'Accepted: requests whose run started. Refused: requests answered with an error, by its code',
    '(token_revoked, token_expired, rate_limited, too_many_runs, pipeline_not_found, invalid_json, …).',
    'Requests with a missing, malformed or unknown token have no token to count against.',
    'A running server writes its counts every 5 seconds.',
  ].join('\n'),
  positionals: ['token-id'],
  options: { days: { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx) {
    const id = ctx.arg(0);
    if (id.startsWith('mm_')) throw new AppError('usage', 'that looks like a token value, not a token id; pass the id (tok_…) shown by `mechamental tokens list`');
    let days: number;
    try {
      days = usageDays(ctx.string('days'));
    } catch (error) {
      throw new AppError('usage', `tokens usage: --${(error as Error).message}`);
    }
    const report = await (await ctx.services()).usageReport.forToken(id, { days, limit: days });
    if (ctx.json) return ctx.printJson(report);
    const oldestFirst = [...report.usage].reverse();
    const { totals } = report;
    ctx.out(`Token ${report.token_id}${report.app ? ` of app ${report.app}` : ''}: requests per UTC day, ${report.from} to ${report.to}`);
    ctx.out('');
    ctx.out(`accepted  ${sparkline(oldestFirst.map((d) => d.accepted))}  ${totals.accepted} in ${days} days`);
    ctx.out(`refused   ${sparkline(oldestFirst.map((d) => d.refused_total))}  ${totals.refused_total}${totals.refused_total > 0 ? ` (${describeReasons(totals.refused)})` : ''}`);
    ctx.out(`          ${report.from}${' '.repeat(Math.max(1, days - 20))}${days >= 21 ? report.to : ''}`.trimEnd());
    const busy = report.usage.filter((d) => d.accepted > 0 || d.refused_total > 0);
    ctx.out('');
    if (busy.length === 0) return ctx.out(`No requests with this token in the last ${days} days.`);
    ctx.out(table(['DAY', 'ACCEPTED', 'REFUSED', 'REASONS'], busy.map((d) => [d.day, String(d.accepted), String(d.refused_total), describeReasons(d.refused)])));
  },
};
