/**
 * The console's pages live in the URL's fragment (`/console/#/apps/default/tokens`), so the server
 * serves one HTML file and no path needs a rewrite. No token value or code is ever put here except
 * the sign-in code of a `mechamental console` link, which the console removes at once.
 */
export const APP_TABS = ['tokens', 'pipelines', 'audit'] as const;
export type AppTab = (typeof APP_TABS)[number];

export type Route = { page: 'apps' } | { page: 'app'; app: string; tab: AppTab } | { page: 'not-found'; path: string };

/** The route a fragment names (`#/apps/default/audit`); anything unknown is `not-found`. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').split('?')[0] ?? '';
  const parts = path.split('/').filter((part) => part !== '');
  // After a sign-in link (#/sign-in?code=…) the console starts at the app list.
  if (parts.length === 0 || (parts.length === 1 && (parts[0] === 'apps' || parts[0] === 'sign-in'))) return { page: 'apps' };
  if (parts[0] === 'apps' && parts.length <= 3) {
    let app: string;
    try {
      app = decodeURIComponent(parts[1]!);
    } catch {
      return { page: 'not-found', path };
    }
    const tab = (parts[2] ?? 'tokens') as AppTab;
    if ((APP_TABS as readonly string[]).includes(tab)) return { page: 'app', app, tab };
  }
  return { page: 'not-found', path };
}

export function hrefOf(route: Route): string {
  switch (route.page) {
    case 'apps':
      return '#/';
    case 'app':
      return `#/apps/${encodeURIComponent(route.app)}/${route.tab}`;
    case 'not-found':
      return `#${route.path}`;
  }
}

/** The sign-in code in a `mechamental console` link (`#/sign-in?code=…`), if this is one. */
export function signInCodeOf(hash: string): string | undefined {
  const match = /^#\/sign-in\?(.*)$/.exec(hash);
  if (!match) return undefined;
  return new URLSearchParams(match[1]).get('code') ?? undefined;
}

export function navigate(route: Route): void {
  window.location.hash = hrefOf(route);
}
