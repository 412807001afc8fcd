import { createContext, useContext } from 'react';
import type { Api, ConsoleSessionView, ServerSettings } from './api';

/** What every page of a signed-in console uses. */
export interface ConsoleState {
  api: Api;
  session: ConsoleSessionView;
  /** Where the trigger API is (for curl examples). */
  triggerUrl: string;
  settings: ServerSettings;
  /** Grows whenever the server reports a change (see useChanges): lists reload when it does. */
  version: number;
}

export const ConsoleContext = createContext<ConsoleState | null>(null);

export function useConsole(): ConsoleState {
  const state = useContext(ConsoleContext);
  if (!state) throw new Error('useConsole outside a signed-in console');
  return state;
}
