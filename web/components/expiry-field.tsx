import { useId } from 'react';
import { DEFAULT_EXPIRY_PRESET, EXPIRY_PRESETS, exactTime, shortSpan } from '../../src/ui-text';

const DAY = 86_400_000;
/** A date alone means the end of that day, UTC (as the server reads it). */
const END_OF_DAY = DAY - 1000;

export type ExpiryChoice = { kind: 'preset'; value: string } | { kind: 'date'; date: string };

export const DEFAULT_EXPIRY: ExpiryChoice = { kind: 'preset', value: DEFAULT_EXPIRY_PRESET };

/** The expiry as the admin API takes it. */
export function expiryBody(choice: ExpiryChoice): { expires_in: string } | { expires_at: string } {
  return choice.kind === 'preset' ? { expires_in: choice.value } : { expires_at: choice.date };
}

function dateOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The dates the date field accepts: from the first whose end is later than `after`, to the last whose end is within the max lifetime. */
export function dateRange(now: number, maxTtlMs: number, after: number): { min: string; max: string } {
  const firstEnd = Math.floor(Math.max(now, after) / DAY) * DAY + END_OF_DAY;
  const min = firstEnd > Math.max(now, after) ? firstEnd : firstEnd + DAY;
  const lastEnd = Math.floor((now + maxTtlMs - END_OF_DAY) / DAY) * DAY + END_OF_DAY;
  return { min: dateOf(min), max: dateOf(lastEnd) };
}

/** Whether a preset can be chosen: within the server's max lifetime, and later than `after` (refresh only extends). */
export function presetAllowed(ms: number, now: number, maxTtlMs: number, after: number): boolean {
  return ms <= maxTtlMs && now + ms > after;
}

export interface ExpiryFieldProps {
  value: ExpiryChoice;
  onChange: (value: ExpiryChoice) => void;
  now: number;
  /** The server's max lifetime (GET /v1/settings). */
  maxTtlMs: number;
  maxTtlText: string;
  /** Refresh: the token's current expiry, which a new one must pass. */
  after?: number;
}

/**
 * "Expiration": the presets (7 days, 30 days, 90 days, 1 year — the TUI's) or a date. Choices the
 * server would refuse (past its max lifetime; for a refresh, not later than the current expiry) are
 * disabled, and the date field's range says the same, so the limit is seen before it is hit.
 */
export function ExpiryField({ value, onChange, now, maxTtlMs, maxTtlText, after = 0 }: ExpiryFieldProps) {
  const name = useId();
  const dateId = useId();
  const hintId = useId();
  const range = dateRange(now, maxTtlMs, after);
  const dateValue = value.kind === 'date' ? value.date : '';
  return (
    <fieldset className="expiry" aria-describedby={hintId}>
      <legend>Expiration</legend>
      <div className="choices">
        {EXPIRY_PRESETS.map((preset) => {
          const allowed = presetAllowed(preset.ms, now, maxTtlMs, after);
          return (
            <label key={preset.value} className={allowed ? undefined : 'disabled'}>
              <input
                type="radio"
                name={name}
                value={preset.value}
                disabled={!allowed}
                checked={value.kind === 'preset' && value.value === preset.value}
                onChange={() => onChange({ kind: 'preset', value: preset.value })}
              />
              {preset.label}
            </label>
          );
        })}
        <label>
          <input type="radio" name={name} value="date" checked={value.kind === 'date'} onChange={() => onChange({ kind: 'date', date: dateValue || range.min })} />
          On a date
        </label>
      </div>
      {value.kind === 'date' ? (
        <p className="date-field">
          <label htmlFor={dateId}>Date (the token works until the end of that day, UTC)</label>
          <input id={dateId} type="date" required min={range.min} max={range.max} value={dateValue} onChange={(event) => onChange({ kind: 'date', date: event.target.value })} />
        </p>
      ) : null}
      <p id={hintId} className="hint">
        At most {maxTtlText} from now, the server's limit (latest {exactTime(new Date(now + maxTtlMs).toISOString())})
        {after > now ? `; later than the current expiry, in ${shortSpan(after - now)}` : ''}.
      </p>
    </fieldset>
  );
}

/** The preset to start with: the default when allowed, else the first allowed one, else a date. */
export function initialExpiry(now: number, maxTtlMs: number, after = 0): ExpiryChoice {
  const preset = EXPIRY_PRESETS.find((p) => p.value === DEFAULT_EXPIRY_PRESET && presetAllowed(p.ms, now, maxTtlMs, after)) ?? EXPIRY_PRESETS.find((p) => presetAllowed(p.ms, now, maxTtlMs, after));
  return preset ? { kind: 'preset', value: preset.value } : { kind: 'date', date: dateRange(now, maxTtlMs, after).min };
}
