import { AppError } from '../errors';
import type { DeliveryView, WebhookView } from '../webhooks/service';
import type { Command, CommandContext } from './context';
import { relative, table } from './format';
import { PAGING_OPTIONS, pagingHelp, printPaged } from './paged-output';

/** One page of deliveries without --limit: the recent ones an admin looks at after a failure. */
const DELIVERIES_DEFAULT_LIMIT = 20;

const json = { json: { type: 'boolean' } } as const;

/** The webhook a command names: its id as the argument, or --url, or the app's only one. */
async function pickWebhook(ctx: CommandContext): Promise<WebhookView> {
  const id = ctx.positionals[0];
  if (id?.startsWith('whsec_')) throw new AppError('usage', 'that looks like a webhook secret, not a webhook id; pass the id (wh_…) shown by `mechamental webhooks list`');
  return (await ctx.services()).webhooks.pick(ctx.required('app'), { id, url: ctx.string('url') });
}

function deliveryRow(d: DeliveryView, now: number): string[] {
  const last = d.attempt_log.at(-1);
  const outcome = d.status === 'delivered' ? `${d.last_status ?? ''}` : (d.last_error ?? '');
  const next = d.status === 'pending' && d.next_attempt_at ? `next ${relative(d.next_attempt_at, now)}` : '';
  return [String(d.id), d.type, d.status, String(d.attempts), last ? last.at : '-', [outcome.slice(0, 60), next].filter(Boolean).join('; ')];
}

function printDelivery(ctx: CommandContext, d: DeliveryView): void {
  ctx.out(`delivery ${d.id} (${d.type}, webhook-id ${d.event_id}): ${d.status}`);
  for (const a of d.attempt_log) {
    ctx.out(`  ${a.at}  ${a.response_status === null ? 'no answer' : `HTTP ${a.response_status}`}  ${a.duration_ms} ms${a.error ? `  ${a.error}` : ''}`);
  }
}

export const webhookCommands: Command[] = [
  {
    name: 'webhooks set',
    summary: 'add a webhook to an app; its signing secret is shown once',
    usage: 'webhooks set --app APP --url URL [--json]',
    help: [
      'Events: token.created, token.revoked, token.refreshed, token.rotated, token.expiring (7 days and',
      '1 day before), token.expired. Each is POSTed as JSON, signed per the Standard Webhooks',
      'specification (headers webhook-id, webhook-timestamp, webhook-signature), and retried with',
      'backoff for 24 hours (MM_WEBHOOK_RETRY_FOR) until the receiver answers 2xx.',
      'Receivers: http or https; private networks are allowed, loopback and link-local addresses only',
      'with MM_WEBHOOK_ADDRESSES=any on the server (docs/usage-and-webhooks.md).',
      'Example: mechamental webhooks set --app default --url https://hooks.example.com/mechamental',
    ].join('\n'),
    options: { app: { type: 'string' }, url: { type: 'string' }, ...json },
    async run(ctx) {
      const created = await (await ctx.services()).webhooks.set(ctx.required('app'), ctx.required('url'), 'cli');
      if (ctx.json) return ctx.printJson(created);
      ctx.err(`Added webhook ${created.webhook.id} to app ${created.webhook.app}: ${created.webhook.url}`);
      ctx.err('\nIts signing secret follows. Copy it into the receiver now: it will not be shown again.');
      ctx.out(created.secret);
      ctx.err(`Check the receiver with: mechamental webhooks test ${created.webhook.id} --app ${created.webhook.app}`);
    },
  },
  {
    name: 'webhooks list',
    summary: "list an app's webhooks (never their secrets)",
    usage: 'webhooks list --app APP [--json]',
    options: { app: { type: 'string' }, ...json },
    async run(ctx) {
      const app = ctx.required('app');
      const webhooks = await (await ctx.services()).webhooks.list(app);
      if (ctx.json) return ctx.printJson({ webhooks });
      if (webhooks.length === 0) return ctx.out(`App "${app}" has no webhooks. Add one with: mechamental webhooks set --app ${app} --url URL`);
      ctx.out(table(['ID', 'URL', 'CREATED'], webhooks.map((w) => [w.id, w.url, w.created_at])));
    },
  },
  {
    name: 'webhooks remove',
    summary: 'remove a webhook (and its deliveries)',
    usage: 'webhooks remove [WEBHOOK_ID] --app APP [--url URL] [--json]',
    help: 'Without an id or --url, removes the app\'s only webhook.',
    positionals: ['webhook-id'],
    options: { app: { type: 'string' }, url: { type: 'string' }, ...json },
    async run(ctx) {
      const webhook = await pickWebhook(ctx);
      const removed = await (await ctx.services()).webhooks.remove(webhook.app, webhook.id, 'cli');
      if (ctx.json) return ctx.printJson({ webhook: removed });
      ctx.out(`Removed webhook ${removed.id} (${removed.url}) from app ${removed.app}.`);
    },
  },
  {
    name: 'webhooks test',
    summary: 'send a webhook.test event now and show how the receiver answered',
    usage: 'webhooks test [WEBHOOK_ID] --app APP [--url URL] [--json]',
    help: 'One attempt from this process, signed like every event; no retries. Exit 1 when the receiver did not answer 2xx.\nWithout an id or --url, tests the app\'s only webhook.',
    positionals: ['webhook-id'],
    options: { app: { type: 'string' }, url: { type: 'string' }, ...json },
    async run(ctx) {
      const webhook = await pickWebhook(ctx);
      const delivery = await (await ctx.services()).webhooks.test(webhook.app, webhook.id);
      if (ctx.json) ctx.printJson({ delivery });
      else {
        printDelivery(ctx, delivery);
        ctx.out(delivery.status === 'delivered' ? `The receiver at ${webhook.url} accepted the test event.` : `The test event was not delivered to ${webhook.url}.`);
      }
      return delivery.status === 'delivered' ? 0 : 1;
    },
  },
  {
    name: 'webhooks deliveries',
    summary: "show an app's webhook deliveries and their attempts, newest first",
    usage: 'webhooks deliveries --app APP [--webhook WEBHOOK_ID] [--status pending|delivered|failed] [--limit N] [--cursor C] [--all] [--json]',
    help: pagingHelp('deliveries', DELIVERIES_DEFAULT_LIMIT, 'delivery'),
    options: { app: { type: 'string' }, webhook: { type: 'string' }, status: { type: 'string' }, ...PAGING_OPTIONS, ...json },
    async run(ctx) {
      const app = ctx.required('app');
      const services = await ctx.services();
      const now = ctx.now();
      const filters = [ctx.string('webhook') ? `--webhook ${ctx.string('webhook')}` : '', ctx.string('status') ? `--status ${ctx.string('status')}` : ''].filter(Boolean);
      await printPaged(ctx, {
        fetch: (cursor, limit) => services.webhooks.deliveries(app, { webhookId: ctx.string('webhook'), status: ctx.string('status'), limit, cursor }),
        jsonKey: 'deliveries',
        headers: ['ID', 'TYPE', 'STATUS', 'ATTEMPTS', 'LAST ATTEMPT', 'RESULT'],
        cells: (d) => deliveryRow(d, now),
        empty: `No deliveries for app "${app}" yet.`,
        again: ['mechamental webhooks deliveries --app', app, ...filters].join(' '),
        defaultLimit: DELIVERIES_DEFAULT_LIMIT,
      });
    },
  },
];
