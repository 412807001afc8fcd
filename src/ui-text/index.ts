/**
 * The words the CLI, the TUI and the web console share: presets, status names and colours, how
 * times are said, and the confirm texts. Nothing here reads a clock, touches I/O or imports Node or
 * React: the console's browser bundle imports it as it is.
 */
export * from './audit';
export * from './messages';
export * from './pipeline-summary';
export * from './presets';
export * from './status';
export * from './time';
