import { Text } from 'ink';
import type { TokenStatus } from '../../src/tokens/service';
import { fit } from '../format';
import { useTheme } from '../hooks/use-theme';

/** A token status word in its colour (active green, expiring yellow, expired grey, revoked red), padded to `width`. */
export function StatusText({ status, width }: { status: TokenStatus; width: number }) {
  const { statusColor, colors } = useTheme();
  return (
    <Text color={statusColor(status)} dimColor={colors && status === 'expired'}>
      {fit(status, width)}
    </Text>
  );
}
