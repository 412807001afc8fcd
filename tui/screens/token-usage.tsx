import { Box, Text } from 'ink';
import type { TokenView } from '../../src/tokens/service';
import { describeReasons } from '../../src/ui-text/sparkline';
import { MessageLine } from '../components/message-line';
import { UsageChart } from '../components/usage-chart';
import { agoShort, errorMessage, relativeShort } from '../format';
import { useKeys } from '../hooks/use-keys';
import { useLiveQuery } from '../hooks/use-live-query';
import { useServices } from '../hooks/use-services';

/** The window of the TUI's usage chart. */
export const USAGE_CHART_DAYS = 30;

export interface TokenUsageProps {
  token: TokenView;
  width: number;
  /** Lines available. */
  height: number;
  isActive: boolean;
  onClose: () => void;
}

/**
 * A token's detail with its usage: requests per UTC day over the last 30 days (accepted as bars,
 * refused as a sparkline), the totals and the refusals by reason. Refreshes when the database
 * changes (the server writes its counts every 5 s). Any of esc, q, u or enter closes it.
 */
export function TokenUsage({ token, width, height, isActive, onClose }: TokenUsageProps) {
  const services = useServices();
  const report = useLiveQuery(() => services.usageReport.forToken(token.id, { days: USAGE_CHART_DAYS, limit: USAGE_CHART_DAYS }), [token.id]);
  useKeys(
    (input, key) => {
      if (key.escape || key.return || input === 'q' || input === 'u') onClose();
    },
    { isActive },
  );
  const now = services.clock.now();
  const data = report.data;
  const days = data ? [...data.usage].reverse() : [];
  const chartHeight = Math.max(3, Math.min(10, height - 9));
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        Usage of "{token.name}" ({token.id}), requests per UTC day
      </Text>
      <Text wrap="truncate-end">
        {token.status} · expires {relativeShort(token.expires_at, now)} · last used {agoShort(token.last_used_at, now)} · created {token.created_at.slice(0, 10)}
      </Text>
      <Text> </Text>
      {report.error !== undefined ? (
        <MessageLine message={{ kind: 'error', text: errorMessage(report.error) }} wrap />
      ) : !data ? (
        <Text>Loading…</Text>
      ) : (
        <>
          <UsageChart days={days} height={chartHeight} width={width - 1} />
          <Text> </Text>
          <Text wrap="truncate-end">
            accepted {data.totals.accepted} · refused {data.totals.refused_total} in the last {USAGE_CHART_DAYS} days
          </Text>
          {data.totals.refused_total > 0 ? <Text wrap="wrap">refused by reason: {describeReasons(data.totals.refused)}</Text> : null}
        </>
      )}
    </Box>
  );
}
