export const INSTALL_HINT: string;
export function postgresBinDir(): string | undefined;
export interface Cluster {
  url: string;
  port: number;
  dir: string;
  start(): void;
  stop(mode?: 'smart' | 'fast' | 'immediate'): void;
  remove(): void;
}
export function startCluster(): Promise<Cluster>;
