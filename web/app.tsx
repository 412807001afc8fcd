import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Api, ApiError, type ServerSettings, type SignedIn } from './api';
import { HeaderBar } from './components/header-bar';
import { ConsoleContext, type ConsoleState } from './console-context';
import { useChanges } from './hooks/use-changes';
import { useRoute } from './hooks/use-route';
import { AppPage } from './pages/app-page';
import { AppsPage } from './pages/apps-page';
import { SignInPage } from './pages/sign-in-page';
import { hrefOf, signInCodeOf } from './router';

type SessionState =
  | { kind: 'loading' }
  | { kind: 'signed-out'; message?: { text: string; tone: 'info' | 'error' } }
  | { kind: 'signed-in'; signedIn: SignedIn; settings: ServerSettings };

/** The console: sign-in, then the app list and each app's tabs, with live updates from the server. */
export function App() {
  const [state, setState] = useState<SessionState>({ kind: 'loading' });
  const signedOut = useCallback((text?: string, tone: 'info' | 'error' = 'error') => setState({ kind: 'signed-out', ...(text ? { message: { text, tone } } : {}) }), []);
  // Set while a sign-out the admin asked for is under way: the end of the session it causes (the
  // change feed's session-ended, a 401) must not replace "You signed out." with another message.
  const leaving = useRef(false);
  const api = useMemo(
    () =>
      new Api((message) => {
        if (!leaving.current) signedOut(message);
      }),
    [signedOut],
  );
  const route = useRoute();

  const enter = useCallback(
    async (signedIn: SignedIn) => {
      leaving.current = false;
      api.useSession(signedIn.session);
      const settings = await api.settings();
      setState({ kind: 'signed-in', signedIn, settings });
    },
    [api],
  );

  /** Signs in with the code of a `mechamental console` link, first taking it out of the address bar and history (it works once). */
  const signInWith = useCallback(
    async (code: string) => {
      window.history.replaceState(null, '', `${window.location.pathname}${hrefOf({ page: 'apps' })}`);
      await enter(await api.signIn({ code }));
    },
    [api, enter],
  );

  useEffect(() => {
    performance.mark('console-first-render');
    const code = signInCodeOf(window.location.hash);
    const start = code !== undefined ? signInWith(code) : api.session().then((signedIn) => (signedIn ? enter(signedIn) : signedOut()));
    start.catch((error: unknown) => {
      // A 401 has already said why (Api's onSignedOut): the session ended, or the link was used.
      if (error instanceof ApiError && error.status === 401 && code === undefined) return;
      signedOut((error as Error).message);
    });
    // A sign-in link opened in a tab that shows the console already changes only the fragment.
    const onHashChange = () => {
      const next = signInCodeOf(window.location.hash);
      if (next !== undefined) signInWith(next).catch((error: Error) => signedOut(error.message));
    };
    window.addEventListener('hashchange', onHashChange);
    return () => window.removeEventListener('hashchange', onHashChange);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- once, at start
  }, []);

  const checkSession = useCallback(() => {
    api.session().then(
      (signedIn) => {
        if (signedIn) api.useSession(signedIn.session);
        else if (!leaving.current) signedOut();
      },
      () => undefined, // a 401 already signed out (Api's onSignedOut); a network error: the feed retries
    );
  }, [api]);
  const version = useChanges(state.kind === 'signed-in', checkSession);

  const signOut = useCallback(() => {
    leaving.current = true;
    api.signOut().then(
      () => signedOut('You signed out.', 'info'),
      (error: Error) => {
        leaving.current = false;
        signedOut(error.message);
      },
    );
  }, [api, signedOut]);

  const ready = state.kind !== 'loading';
  useEffect(() => {
    // For the first-render budget (npm run bench, section console): when the first real page (sign-in or the app list) is up.
    if (ready && performance.getEntriesByName('console-ready').length === 0) performance.mark('console-ready');
  }, [ready]);

  const context = useMemo<ConsoleState | null>(
    () => (state.kind === 'signed-in' ? { api, session: state.signedIn.session, triggerUrl: state.signedIn.trigger_url, settings: state.settings, version } : null),
    [api, state, version],
  );

  if (state.kind === 'loading') return <p className="loading">Loading the console…</p>;
  if (state.kind === 'signed-out' || !context) {
    return (
      <SignInPage
        key={state.kind === 'signed-out' ? (state.message?.text ?? '') : ''}
        api={api}
        message={state.kind === 'signed-out' ? state.message : undefined}
        onSignedIn={(signedIn) => {
          enter(signedIn).catch((error: Error) => signedOut(error.message));
        }}
      />
    );
  }
  return (
    <ConsoleContext.Provider value={context}>
      <a className="skip-link" href="#main" onClick={(event) => (event.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <HeaderBar session={context.session} onSignOut={signOut} />
      <main id="main" tabIndex={-1}>
        {route.page === 'apps' ? (
          <AppsPage />
        ) : route.page === 'app' ? (
          <AppPage app={route.app} tab={route.tab} token={route.token} />
        ) : (
          <>
            <h1>Page not found</h1>
            <p>
              The console has no page {route.path}. <a href={hrefOf({ page: 'apps' })}>See all apps</a>.
            </p>
          </>
        )}
      </main>
    </ConsoleContext.Provider>
  );
}
