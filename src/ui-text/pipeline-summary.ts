import type { PipelineConfig, PipelineKind } from '../apps/pipeline-config';

/** One line that says what a pipeline does, from its kind and config (TUI, console). */
export function summarizeConfig(kind: PipelineKind, config: PipelineConfig): string {
  const c = config as Record<string, unknown>;
  switch (kind) {
    case 'echo':
      return c.delay_ms ? `echoes the message, ${c.delay_ms} ms per word` : 'echoes the message';
    case 'command':
      return `runs ${(c.argv as string[]).join(' ')}`;
    case 'http':
      return `POSTs to ${c.url as string}`;
    case 'openai':
      return `${c.model as string} at ${c.base_url as string}`;
  }
}
