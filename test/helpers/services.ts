import { ManualClock } from '../../src/clock';
import { loadConfig, type Config } from '../../src/config';
import { openServices, type Services } from '../../src/services';
import { after } from 'node:test';
import { tempDataDir } from './data-dir';

export const DAY = 86_400_000;

/**
 * Real services on a real SQLite file in a fresh temp dir, with a settable clock (starting at the
 * real now, so files written here also make sense to other processes). Closed after the test file.
 */
export function testServices(options: { dataDir?: string; env?: NodeJS.ProcessEnv; clock?: ManualClock } = {}): Services & { clock: ManualClock; config: Config } {
  const clock = options.clock ?? new ManualClock(Date.now());
  const config = loadConfig({ ...options.env, MM_DATA_DIR: options.dataDir ?? tempDataDir() });
  const services = openServices(config, { clock, actor: 'cli' });
  after(() => {
    try {
      services.close();
    } catch {
      // already closed by the test
    }
  });
  return services as Services & { clock: ManualClock; config: Config };
}
