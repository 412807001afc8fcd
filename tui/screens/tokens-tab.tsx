import { Box, Text } from 'ink';
import { useKeys } from '../hooks/use-keys';
import { useCallback, useContext, useLayoutEffect, useRef, useState } from 'react';
import { requireName } from '../../src/apps/validation';
import { invalidField } from '../../src/errors';
import { requireAllowedIps, requireDescription, requirePipelineScope } from '../../src/tokens/controls';
import type { TokenCount, TokenView } from '../../src/tokens/service';
import { EXPIRY_PRESETS as PRESETS } from '../../src/ui-text/presets';
import { ChoiceList, type Choice } from '../components/choice-list';
import { ConfirmPrompt } from '../components/confirm-prompt';
import { FormPanel as Form } from '../components/form-panel';
import { IssuedValueBox } from '../components/issued-value-box';
import { KeyFooter, type KeyHint } from '../components/key-footer';
import { MessageLine, type Message } from '../components/message-line';
import { TextInput } from '../components/text-input';
import { TokenTable } from '../components/token-table';
import { clip, countText, errorMessage, relativeShort, shortTime, tokenFilter } from '../format';
import { pageOptions, useKeysetWindow, type PageStart } from '../hooks/use-keyset-window';
import { useLatestOnly } from '../hooks/latest-only';
import { DataVersionContext } from '../hooks/use-data-version';
import { useLiveQuery } from '../hooks/use-live-query';
import { useServices } from '../hooks/use-services';
import { useTheme } from '../hooks/use-theme';
import { TokenUsage } from './token-usage';
import { DATE_CHOICE_LABEL, DATE_CHOICE_NOTE, EXPIRY_PRESETS, GRACE_PRESETS, REFRESH_NOTE, REVOKE_CONSEQUENCE, revokeQuestion, ROTATE_NOTE, USE_HINT } from '../../src/ui-text';

/** Expiry presets for create and refresh; `null` asks for a typed date, time or duration. */
export const EXPIRY_CHOICES: readonly Choice<string | null>[] = [
  ...EXPIRY_PRESETS.map(({ label, value }) => ({ label, value })),
  { label: DATE_CHOICE_LABEL, value: null, note: DATE_CHOICE_NOTE },
];

/** How long a rotated token keeps working beside its replacement. */
export const GRACE_CHOICES: readonly Choice<string>[] = GRACE_PRESETS.map(({ label, value, note }) => (note === undefined ? { label, value } : { label, value, note }));

/** Rows per page read; the window keeps KEEP_PAGES of them around the selection. */
export const TOKEN_PAGE = 100;
const KEEP_PAGES = 5;
/** Counts stop here ("10,000+"): an exact count of a million rows is not worth its time on screen. */
export const COUNT_CAP = 10_000;
/**
 * A filter's count stops sooner ("1,000+"): it is read again at each keystroke, and a text that
 * thousands of names contain costs a trigram search per match counted (at a million tokens, a
 * count to 10,000 took 280 ms of a keystroke; to 1,000, a tenth of that).
 */
export const MATCH_COUNT_CAP = 1_000;

/** A filter's count: of which filter (app and filter), read at which data version. */
interface FilterCount {
  key: string;
  version: number;
  count: TokenCount;
}

/** The count of filter `key` read last (at the highest data version), if any was. */
function newestCount(key: string, ...counts: Array<FilterCount | undefined>): TokenCount | undefined {
  let newest: FilterCount | undefined;
  for (const count of counts) if (count?.key === key && (newest === undefined || count.version > newest.version)) newest = count;
  return newest?.count;
}
const tokenId = (token: TokenView) => token.id;

/**
 * The expiry presets for refreshing `token` at `now`: a refresh can only extend it, so a preset
 * that would end it no later than it now ends is marked unavailable (and says so); the first that
 * is later is preselected.
 */
export function refreshChoices(token: TokenView, now: number): { choices: Choice<string | null>[]; initialIndex: number } {
  const expiresAt = Date.parse(token.expires_at);
  const choices: Choice<string | null>[] = EXPIRY_CHOICES.map((choice) => {
    const preset = PRESETS.find((p) => p.value === choice.value);
    if (preset && now + preset.ms <= expiresAt) return { ...choice, disabled: true, note: 'not later than it now expires' };
    return choice;
  });
  const first = choices.findIndex((choice) => !choice.disabled);
  return { choices, initialIndex: first >= 0 ? first : choices.length - 1 };
}

const DATE_PLACEHOLDER = '2026-12-31, 2026-12-31T18:00:00Z or 45d';

/**
 * The optional restrictions of a token being created, as typed (lists comma-separated); empty means
 * none. Offered from the expiry step with `o`, so the fast path (name → expiry → done) is unchanged.
 */
interface Restrictions {
  description: string;
  pipelines: string;
  allowedIps: string;
}

const NO_RESTRICTIONS: Restrictions = { description: '', pipelines: '', allowedIps: '' };

/** A comma-separated list as typed, as the service takes it (undefined when empty: no restriction). */
function listOf(text: string): string[] | undefined {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  return entries.length === 0 ? undefined : entries;
}

/** One line saying what the restrictions are, for the expiry step and the detail line. */
function describeRestrictions(pipelines: readonly string[] | null | undefined, allowedIps: readonly string[] | null | undefined, description?: string | null): string {
  const parts = [`pipelines ${pipelines?.join(',') ?? 'all'}`, `IPs ${allowedIps?.join(',') ?? 'any'}`];
  if (description) parts.push(`"${description}"`);
  return parts.join(' · ');
}

/** The one-time display of a value; dropping this object (dismissal) is what forgets the value. */
interface Issued {
  title: string;
  value: string;
  lines: string[];
}

type Mode =
  | { kind: 'browse' }
  | { kind: 'filter' }
  | { kind: 'create-name'; name: string }
  | { kind: 'create-expiry'; name: string; restrictions: Restrictions }
  | { kind: 'create-date'; name: string; restrictions: Restrictions }
  | { kind: 'create-description'; name: string; restrictions: Restrictions }
  | { kind: 'create-pipelines'; name: string; restrictions: Restrictions }
  | { kind: 'create-ips'; name: string; restrictions: Restrictions }
  | { kind: 'revoke'; token: TokenView }
  | { kind: 'refresh'; token: TokenView }
  | { kind: 'refresh-date'; token: TokenView }
  | { kind: 'rotate'; token: TokenView }
  | { kind: 'usage'; token: TokenView }
  | { kind: 'issued'; issued: Issued };

export const TOKENS_KEYS: readonly KeyHint[] = [
  ['c', 'create'],
  ['r', 'revoke'],
  ['f', 'refresh'],
  ['o', 'rotate'],
  ['/', 'filter'],
  ['u', 'usage'],
  ['?', 'help'],
  ['q', 'back'],
];

/** The footer while `[y/N]` asks: the confirm's own keys. */
export const CONFIRM_KEYS: readonly KeyHint[] = [
  ['y', 'revoke'],
  ['n esc enter', 'keep it'],
];

/** The footer while the filter is typed. */
export const FILTER_KEYS: readonly KeyHint[] = [
  ['enter', 'keep the filter'],
  ['esc', 'clear it'],
];

export interface TabProps {
  app: string;
  width: number;
  /** Lines for the whole tab: content, message line and footer. */
  height: number;
  isActive: boolean;
  /** Tells the app screen that keys belong to a form or prompt now (no tab switching, no back). */
  onModalChange: (modal: boolean) => void;
  onBack: () => void;
}

/**
 * The Tokens tab: the app's tokens (never their values) and the lifecycle actions, each a call
 * to the same TokenService the CLI and the HTTP API use; its errors are shown as they are.
 */
export function TokensTab({ app, width, height, isActive, onModalChange, onBack }: TabProps) {
  const services = useServices();
  const { color } = useTheme();
  const [mode, setMode] = useState<Mode>({ kind: 'browse' });
  const [message, setMessage] = useState<Message | undefined>();
  const [query, setQuery] = useState('');
  // The filter runs in the database: a window of the matching rows, newest first, read page by page.
  const filter = tokenFilter(query);
  const filterKey = JSON.stringify(filter);
  // A lane each for the pages and the filter's count: typed fast, only the latest filter is read.
  const pageLane = useLatestOnly();
  const countLane = useLatestOnly();
  const laneKey = `${app}\u0000${filterKey}`;
  // A filter's count is read with its first page, and both reach the screen in the frame that
  // shows the rows (a frame of its own for the count cost a keystroke another render). Each count
  // says which filter it counted and at which data version; the newest for this filter is shown,
  // once the filter's rows are (until then "…", never a count beside another filter's rows).
  const version = useContext(DataVersionContext);
  const firstPageCount = useRef<FilterCount | undefined>(undefined);
  const fetchPage = useCallback(
    (start: PageStart, limit: number) =>
      pageLane.run(laneKey, async () => {
        const page = services.tokens.page(app, { ...filter, limit, ...pageOptions(start) });
        if (filterKey === '{}' || !('top' in start)) return page;
        const [rows, count] = await Promise.all([page, services.tokens.count(app, filter, MATCH_COUNT_CAP)]);
        firstPageCount.current = { key: laneKey, version, count };
        return rows;
      }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [services, app, filterKey, version],
  );
  const listing = useKeysetWindow(fetchPage, [app, filterKey], { pageSize: TOKEN_PAGE, keepPages: KEEP_PAGES, margin: 20, idOf: tokenId });
  // The total is read again when the data changes, not at each keystroke of the filter.
  const totalCount = useLiveQuery(() => services.tokens.count(app, {}, COUNT_CAP), [app]);
  // The filter's count read on its own: after the data changed (a window away from the top reads
  // no first page), or after this screen's own writes.
  const matchingCount = useLiveQuery<FilterCount | undefined>(
    async () => {
      const brought = firstPageCount.current;
      // Nothing to read (the same answer each time, so that no render follows): no filter, its
      // rows not read yet, or its first page brought the count at this version.
      if (filterKey === '{}' || listing.loading || (brought?.key === laneKey && brought.version === version)) return undefined;
      return { key: laneKey, version, count: await countLane.run(laneKey, () => services.tokens.count(app, filter, MATCH_COUNT_CAP)) };
    },
    [app, filterKey, listing.loading],
  );
  const matching = filterKey === '{}' ? totalCount.data : listing.loading ? undefined : newestCount(laneKey, firstPageCount.current, matchingCount.data);
  const counts = {
    data: totalCount.data === undefined ? undefined : { total: totalCount.data, matching },
    reload: () => {
      // After this screen's own writes: read again (the data version may move only later); the
      // count on screen stays until the new one has come.
      if (firstPageCount.current) firstPageCount.current = { ...firstPageCount.current, version: -1 };
      totalCount.reload();
      matchingCount.reload();
    },
  };
  // For the scope step: which pipelines the app has.
  const pipelineSlugs = useLiveQuery(async () => (await services.pipelines.list(app)).map((p) => p.slug), [app]);

  const now = services.clock.now();
  const rows = listing.rows;
  const selected = listing.selected;
  const current = rows[selected];
  const noTokens = counts.data ? counts.data.total.count === 0 : rows.length === 0 && query === '';

  // A layout effect, so that the app screen stops taking tab keys in the same commit that opens a form.
  useLayoutEffect(() => {
    onModalChange(mode.kind !== 'browse');
  }, [mode.kind, onModalChange]);

  const fail = (error: unknown) => setMessage({ kind: 'error', text: errorMessage(error) });
  const done = (text: string) => {
    setMessage({ kind: 'info', text });
    setMode({ kind: 'browse' });
    listing.reload();
    counts.reload();
  };

  const create = async (name: string, expires: string, restrictions: Restrictions) => {
    try {
      const { token, value } = await services.tokens.create(
        {
          app,
          name,
          expires,
          description: restrictions.description || undefined,
          pipelines: listOf(restrictions.pipelines),
          allowedIps: listOf(restrictions.allowedIps),
        },
        'tui',
      );
      setQuery('');
      listing.top(token.id);
      counts.reload();
      setMessage({ kind: 'info', text: `Created "${token.name}" (${token.id}).` });
      setMode({
        kind: 'issued',
        issued: {
          title: `New token "${token.name}" (${token.id})`,
          value,
          lines: [
            `expires ${token.expires_at} (${relativeShort(token.expires_at, services.clock.now())})`,
            ...(token.pipelines || token.allowed_ips ? [describeRestrictions(token.pipelines, token.allowed_ips)] : []),
            USE_HINT,
          ],
        },
      });
    } catch (error) {
      fail(error);
    }
  };

  const refresh = async (token: TokenView, expires: string) => {
    try {
      const updated = await services.tokens.refresh(token.id, expires, 'tui', { app });
      done(`Refreshed "${updated.name}": it now expires ${shortTime(updated.expires_at)} UTC (${relativeShort(updated.expires_at, services.clock.now())}); its value is unchanged.`);
    } catch (error) {
      fail(error);
    }
  };

  const rotate = async (token: TokenView, grace: string) => {
    try {
      const { token: next, value, previous } = await services.tokens.rotate(token.id, { grace }, 'tui', { app });
      listing.top(next.id);
      counts.reload();
      setMessage({ kind: 'info', text: `Rotated "${next.name}": new token ${next.id}.` });
      const until = Date.parse(previous.expires_at) <= services.clock.now() ? 'has stopped working' : `keeps working until ${shortTime(previous.expires_at)} UTC`;
      setMode({
        kind: 'issued',
        issued: {
          title: `New value for "${next.name}" (${next.id})`,
          value,
          lines: [`expires ${next.expires_at} (${relativeShort(next.expires_at, services.clock.now())})`, `the previous token ${previous.id} ${until}`],
        },
      });
    } catch (error) {
      fail(error);
    }
  };

  const revoke = async (token: TokenView) => {
    try {
      const revoked = await services.tokens.revoke(token.id, 'tui', { app });
      done(`Revoked "${revoked.name}" (${revoked.id}); it stops working immediately.`);
    } catch (error) {
      fail(error);
      setMode({ kind: 'browse' });
    }
  };

  const needToken = (then: (token: TokenView) => void) => {
    if (current) then(current);
    else setMessage({ kind: 'error', text: noTokens ? 'there are no tokens yet; press c to create one' : 'no token is selected' });
  };

  useKeys(
    (input, key) => {
      setMessage(undefined);
      if (key.upArrow || input === 'k') return listing.move(-1);
      if (key.downArrow || input === 'j') return listing.move(1);
      if (key.pageUp) return listing.move(-Math.max(1, height - 5));
      if (key.pageDown) return listing.move(Math.max(1, height - 5));
      if (input === 'g' || key.home) return listing.home();
      if (input === 'G' || key.end) return listing.end();
      if (input === 'c') return setMode({ kind: 'create-name', name: '' });
      if (input === '/') return setMode({ kind: 'filter' });
      if (input === 'r') {
        return needToken((token) => {
          if (token.status === 'revoked') setMessage({ kind: 'info', text: `"${token.name}" (${token.id}) is already revoked.` });
          else setMode({ kind: 'revoke', token });
        });
      }
      if (input === 'f') {
        return needToken((token) => {
          // Only an active (or expiring) token can be extended: say so now, not after a form.
          if (token.status === 'revoked') setMessage({ kind: 'error', text: `"${token.name}" is revoked and cannot be refreshed; create a new token with c.` });
          else if (token.status === 'expired') setMessage({ kind: 'error', text: `"${token.name}" has expired and cannot be refreshed; create a new token with c.` });
          else setMode({ kind: 'refresh', token });
        });
      }
      if (input === 'o') return needToken((token) => setMode({ kind: 'rotate', token }));
      if (input === 'u') return needToken((token) => setMode({ kind: 'usage', token }));
      if (key.escape && query !== '') return setQuery('');
      if (input === 'q' || key.escape) return onBack();
    },
    { isActive: isActive && mode.kind === 'browse' },
  );

  // The expiry step's extra key: `o` opens the optional restrictions (ChoiceList ignores letters but j/k).
  useKeys(
    (input) => {
      if (mode.kind !== 'create-expiry' || input !== 'o') return;
      setMessage(undefined);
      setMode({ kind: 'create-description', name: mode.name, restrictions: mode.restrictions });
    },
    { isActive: isActive && mode.kind === 'create-expiry' },
  );

  const cancel = () => {
    setMessage(undefined);
    setMode({ kind: 'browse' });
  };
  const formActive = isActive;

  // Forms and the one-time value replace the table; the message line moves under the form.
  const form = (() => {
    switch (mode.kind) {
      case 'create-name':
        return (
          <Form title={`Create a token for app ${app}`} message={message}>
            <Text>Name — a descriptive label, such as "CI/CD Pipeline" or "Mobile App Backend":</Text>
            <TextInput
              initialValue={mode.name}
              placeholder="CI/CD Pipeline"
              isActive={formActive}
              onCancel={cancel}
              onSubmit={(text) => {
                try {
                  const name = requireName(text);
                  setMessage(undefined);
                  setMode({ kind: 'create-expiry', name, restrictions: NO_RESTRICTIONS });
                } catch (error) {
                  fail(error);
                }
              }}
            />
          </Form>
        );
      case 'create-expiry': {
        const { description, pipelines, allowedIps } = mode.restrictions;
        const restricted = description !== '' || pipelines !== '' || allowedIps !== '';
        return (
          <Form title={`Create "${mode.name}" — expires in:`} message={message}>
            <ChoiceList
              choices={EXPIRY_CHOICES}
              initialIndex={1}
              isActive={formActive}
              onCancel={cancel}
              onSelect={(value) => {
                setMessage(undefined);
                if (value === null) setMode({ kind: 'create-date', name: mode.name, restrictions: mode.restrictions });
                else void create(mode.name, value, mode.restrictions);
              }}
            />
            <Text> </Text>
            <Text color={color('gray')} wrap="truncate-end">
              {restricted
                ? `Restrictions: ${describeRestrictions(listOf(pipelines), listOf(allowedIps), description)} (o to change)`
                : 'No restrictions: any pipeline, any address. Press o to limit it to pipelines or IPs, or describe it.'}
            </Text>
          </Form>
        );
      }
      case 'create-date':
        return (
          <Form title={`Create "${mode.name}" — expires at (UTC date, RFC 3339 time or duration):`} message={message}>
            <TextInput
              placeholder={DATE_PLACEHOLDER}
              isActive={formActive}
              onCancel={() => setMode({ kind: 'create-expiry', name: mode.name, restrictions: mode.restrictions })}
              onSubmit={(text) => void create(mode.name, text.trim(), mode.restrictions)}
            />
          </Form>
        );
      case 'create-description':
        return (
          <Form title={`Restrictions for "${mode.name}" (1/3) — description, optional:`} message={message}>
            <Text wrap="wrap">What it is for, for whoever reads the token list later (up to 500 characters; Enter to skip):</Text>
            <TextInput
              key="description"
              initialValue={mode.restrictions.description}
              placeholder="Deploys from the CI runners in eu-west"
              isActive={formActive}
              onCancel={() => setMode({ kind: 'create-expiry', name: mode.name, restrictions: mode.restrictions })}
              onSubmit={(text) => {
                try {
                  const description = requireDescription(text) ?? '';
                  setMessage(undefined);
                  setMode({ kind: 'create-pipelines', name: mode.name, restrictions: { ...mode.restrictions, description } });
                } catch (error) {
                  fail(error);
                }
              }}
            />
          </Form>
        );
      case 'create-pipelines':
        return (
          <Form title={`Restrictions for "${mode.name}" (2/3) — pipelines it may trigger:`} message={message}>
            <Text wrap="wrap">
              Comma-separated slugs; empty for all. App {app} has: {pipelineSlugs.data ? pipelineSlugs.data.join(', ') || 'no pipelines' : '…'}
            </Text>
            <TextInput
              key="pipelines"
              initialValue={mode.restrictions.pipelines}
              placeholder="all pipelines"
              isActive={formActive}
              onCancel={() => setMode({ kind: 'create-description', name: mode.name, restrictions: mode.restrictions })}
              onSubmit={(text) => {
                try {
                  const scope = requirePipelineScope(listOf(text));
                  const unknown = scope?.filter((slug) => pipelineSlugs.data !== undefined && !pipelineSlugs.data.includes(slug)) ?? [];
                  if (unknown.length > 0) return fail(invalidField('pipelines', `app ${app} has no pipeline ${unknown.map((slug) => `"${slug}"`).join(', ')}`));
                  setMessage(undefined);
                  setMode({ kind: 'create-ips', name: mode.name, restrictions: { ...mode.restrictions, pipelines: scope?.join(', ') ?? '' } });
                } catch (error) {
                  fail(error);
                }
              }}
            />
          </Form>
        );
      case 'create-ips':
        return (
          <Form title={`Restrictions for "${mode.name}" (3/3) — addresses it may be used from:`} message={message}>
            <Text wrap="wrap">Comma-separated IPv4/IPv6 addresses or CIDR ranges (e.g. 203.0.113.0/24, 2001:db8::/32); empty for any.</Text>
            <TextInput
              key="ips"
              initialValue={mode.restrictions.allowedIps}
              placeholder="any address"
              isActive={formActive}
              onCancel={() => setMode({ kind: 'create-pipelines', name: mode.name, restrictions: mode.restrictions })}
              onSubmit={(text) => {
                try {
                  const ranges = requireAllowedIps(listOf(text));
                  setMessage(undefined);
                  setMode({ kind: 'create-expiry', name: mode.name, restrictions: { ...mode.restrictions, allowedIps: ranges?.join(', ') ?? '' } });
                } catch (error) {
                  fail(error);
                }
              }}
            />
          </Form>
        );
      case 'refresh': {
        const { choices, initialIndex } = refreshChoices(mode.token, now);
        return (
          <Form title={`Refresh "${mode.token.name}" (${mode.token.id}) — ${REFRESH_NOTE}`} message={message}>
            <Text>
              Now expires {shortTime(mode.token.expires_at)} UTC ({relativeShort(mode.token.expires_at, now)}). New expiry, from now:
            </Text>
            <ChoiceList
              choices={choices}
              initialIndex={initialIndex}
              isActive={formActive}
              onCancel={cancel}
              onSelect={(value) => {
                setMessage(undefined);
                if (value === null) setMode({ kind: 'refresh-date', token: mode.token });
                else void refresh(mode.token, value);
              }}
            />
          </Form>
        );
      }
      case 'refresh-date':
        return (
          <Form title={`Refresh "${mode.token.name}" — new expiry (UTC date, RFC 3339 time or duration):`} message={message}>
            <TextInput
              placeholder={DATE_PLACEHOLDER}
              isActive={formActive}
              onCancel={() => setMode({ kind: 'refresh', token: mode.token })}
              onSubmit={(text) => void refresh(mode.token, text.trim())}
            />
          </Form>
        );
      case 'rotate':
        return (
          <Form title={`Rotate "${mode.token.name}" (${mode.token.id})`} message={message}>
            <Text wrap="wrap">{ROTATE_NOTE}</Text>
            <ChoiceList choices={GRACE_CHOICES} initialIndex={1} isActive={formActive} onCancel={cancel} onSelect={(grace) => void rotate(mode.token, grace)} />
          </Form>
        );
      case 'usage':
        return <TokenUsage token={rows.find((t) => t.id === mode.token.id) ?? mode.token} width={width} height={height - 1} isActive={formActive} onClose={cancel} />;
      case 'issued':
        return (
          <IssuedValueBox
            title={mode.issued.title}
            value={mode.issued.value}
            lines={mode.issued.lines}
            isActive={formActive}
            onDismiss={() => setMode({ kind: 'browse' })}
          />
        );
      default:
        return undefined;
    }
  })();

  if (form) {
    const typing = ['create-name', 'create-date', 'refresh-date', 'create-description', 'create-pipelines', 'create-ips'].includes(mode.kind);
    const keys: KeyHint[] =
      mode.kind === 'issued'
        ? [['enter', 'done, forget the value']]
        : mode.kind === 'usage'
          ? [['esc', 'back to the tokens']]
          : typing
            ? [['enter', 'next'], ['esc', 'back']]
            : mode.kind === 'create-expiry'
              ? [['↑↓ 1-9', 'choose'], ['enter', 'create'], ['o', 'restrictions'], ['esc', 'cancel']]
              : [['↑↓ 1-9', 'choose'], ['enter', 'ok'], ['esc', 'cancel']];
    return (
      <Box flexDirection="column" height={height}>
        <Box flexDirection="column" flexGrow={1} overflowY="hidden">
          {form}
        </Box>
        <KeyFooter keys={keys} />
      </Box>
    );
  }

  const bottom = (() => {
    if (mode.kind === 'filter') {
      return (
        <Box flexDirection="column">
          <Box>
            <Text bold>Filter (name or status): </Text>
            <TextInput
              initialValue={query}
              isActive={isActive}
              onChange={(text) => setQuery(text)}
              onSubmit={() => setMode({ kind: 'browse' })}
              onCancel={() => {
                setQuery('');
                setMode({ kind: 'browse' });
              }}
            />
          </Box>
          <Text color={color('gray')} wrap="truncate-end">
            or unused:30d: the active tokens not used for 30 days (any span: 7d, 90d, …)
          </Text>
        </Box>
      );
    }
    if (mode.kind === 'revoke') {
      return (
        <ConfirmPrompt
          question={revokeQuestion(mode.token.name, mode.token.id)}
          consequence={REVOKE_CONSEQUENCE}
          isActive={isActive}
          onConfirm={() => void revoke(mode.token)}
          onCancel={() => {
            setMode({ kind: 'browse' });
            setMessage({ kind: 'info', text: `Kept "${mode.token.name}"; nothing was revoked.` });
          }}
        />
      );
    }
    if (listing.error !== undefined && !listing.loading) return <MessageLine message={{ kind: 'error', text: errorMessage(listing.error) }} wrap />;
    if (message) return <MessageLine message={message} wrap />;
    if (query !== '') {
      return (
        <Text wrap="truncate-end" color={color('yellow')}>
          Filter "{query}": {counts.data?.matching ? `${countText(counts.data.matching)} of ${countText(counts.data.total)}` : '…'} tokens (/ to change, esc to clear)
        </Text>
      );
    }
    if (counts.data && counts.data.total.count > 0 && current) {
      // From the top the window knows its offset; after G (the last page) it counts from the bottom.
      const total = counts.data.total;
      const position = listing.position ?? (listing.atBottom && !total.atLeast ? total.count - (rows.length - selected) : undefined);
      const at = position === undefined ? '' : `${(position + 1).toLocaleString('en-US')} of `;
      return (
        <Text color={color('gray')} wrap="truncate-end">
          {at}
          {countText(counts.data.total)} tokens, newest first
        </Text>
      );
    }
    return <Text> </Text>;
  })();

  const detail = current
    ? [
        current.id,
        describeRestrictions(current.pipelines, current.allowed_ips),
        current.replaced_by ? `replaced by ${current.replaced_by}` : undefined,
        current.revoked_at ? `revoked ${shortTime(current.revoked_at)} UTC` : `expires ${shortTime(current.expires_at)} UTC`,
        `created ${current.created_at.slice(0, 10)}`,
      ]
        .filter(Boolean)
        .join(' · ')
    : '';

  return (
    <Box flexDirection="column" height={height}>
      <Box flexDirection="column" height={height - 4} overflowY="hidden">
        {rows.length > 0 ? (
          <TokenTable tokens={rows} selected={selected} height={height - 4} width={width} now={now} />
        ) : (
          <Box flexDirection="column">
            <Text bold>Tokens of app {app}</Text>
            <Text> </Text>
            <Text>
              {listing.loading ? 'Loading…' : noTokens ? `No tokens yet. Press c to create the first one.` : `No token matches "${query}". Press esc to clear the filter.`}
            </Text>
          </Box>
        )}
      </Box>
      <Text color={color('gray')} wrap="truncate-end">
        {clip(detail, width - 1) || ' '}
      </Text>
      <Box flexDirection="column" height={2} overflowY="hidden">
        {bottom}
      </Box>
      <KeyFooter keys={mode.kind === 'revoke' ? CONFIRM_KEYS : mode.kind === 'filter' ? FILTER_KEYS : TOKENS_KEYS} />
    </Box>
  );
}
