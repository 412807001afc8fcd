import { createContext, useContext } from 'react';
import type { Services } from '../../src/services';

export const ServicesContext = createContext<Services | null>(null);

/** The same services the CLI and the HTTP API call, opened on the database file by `tui`. */
export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error('useServices outside <ServicesContext.Provider>');
  return services;
}
