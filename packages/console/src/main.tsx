// The console's shell: who is signed in (WhoAmI; an API key when the server
// requires one), the navigation, and the page the address names.
import "./styles.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Code, apiKey, errorCode, errorText, session as sessionApi, setApiKey } from "./api.js";
import { onLinkClick, useRoute } from "./router.js";
import { ErrorBox, SessionContext, type Session } from "./ui.js";
import { DefinitionsPage } from "./views/Definitions.js";
import { HandlersPage } from "./views/Handlers.js";
import { QueuesPage } from "./views/Queues.js";
import { RunPage } from "./views/Run.js";
import { RunsPage } from "./views/Runs.js";

function SignIn({ problem, onKey }: { problem?: string | undefined; onKey: (key: string) => void }) {
  const [key, setKey] = useState("");
  return (
    <div class="sign-in">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onKey(key.trim());
        }}
      >
        <h1>Baton console</h1>
        <p>This server requires an API key. Its role decides what you may do here (a reader looks, an operator also acts on runs).</p>
        <label>
          API key
          <input type="password" name="apiKey" autoComplete="off" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} autoFocus />
        </label>
        {problem ? <ErrorBox message={problem} /> : null}
        <button type="submit" class="primary" disabled={!key.trim()}>
          Sign in
        </button>
        <p class="muted small">The key stays in this tab (session storage) and goes only to this server.</p>
      </form>
    </div>
  );
}

function Page() {
  const route = useRoute();
  const [top, id] = route.path;
  if (top === "runs" && id) return <RunPage id={id} />;
  if (top === "definitions") return <DefinitionsPage route={route} />;
  if (top === "queues") return <QueuesPage />;
  if (top === "handlers") return <HandlersPage route={route} />;
  if (!top || top === "runs") return <RunsPage route={route} />;
  return (
    <section class="page">
      <div class="not-found" role="alert">
        <strong>Not found.</strong> No page {location.pathname}. <a href="/runs">Runs</a>
      </div>
    </section>
  );
}

function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [needKey, setNeedKey] = useState(false);
  const check = () =>
    sessionApi.whoAmI({}).then(
      (me) => {
        setSession({ authRequired: me.authRequired, role: me.role, keyId: me.keyId, name: me.name });
        setNeedKey(false);
        setProblem(undefined);
      },
      (e) => {
        if (errorCode(e) === Code.Unauthenticated || errorCode(e) === Code.PermissionDenied) {
          if (apiKey()) setProblem(errorText(e));
          setApiKey(undefined);
          setNeedKey(true);
        } else setProblem(`cannot reach the server: ${errorText(e)}`);
      },
    );
  useEffect(() => {
    void check();
  }, []);
  if (needKey) return <SignIn problem={problem} onKey={(k) => (setApiKey(k), void check())} />;
  if (!session) return problem ? <ErrorBox message={problem} /> : <p class="muted page">Connecting…</p>;
  const [top] = route.path;
  const nav = (href: string, label: string, active: boolean) => (
    <a href={href} class={active ? "active" : ""}>
      {label}
    </a>
  );
  return (
    <SessionContext.Provider value={session}>
      <div class="shell" onClick={onLinkClick as unknown as (e: MouseEvent) => void}>
        <header class="top">
          <a href="/runs" class="brand">
            <svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true">
              <rect width="32" height="32" rx="7" fill="#f5b942" />
              <path d="M8 23 L22 9" stroke="#1f2a44" stroke-width="4" stroke-linecap="round" />
            </svg>
            Baton
          </a>
          <nav>
            {nav("/runs", "Runs", !top || top === "runs")}
            {nav("/definitions", "Definitions", top === "definitions")}
            {nav("/queues", "Queues & workers", top === "queues")}
            {nav("/handlers", "Event handlers", top === "handlers")}
          </nav>
          <div class="who" data-role={session.role}>
            {session.authRequired ? (
              <>
                <span title={`key ${session.keyId}`}>
                  {session.name || session.keyId} · <strong>{session.role}</strong>
                </span>
                <button
                  type="button"
                  class="ghost small"
                  onClick={() => {
                    setApiKey(undefined);
                    setSession(undefined);
                    setNeedKey(true);
                  }}
                >
                  sign out
                </button>
              </>
            ) : (
              <span title="the server runs without authentication (loopback only)">open (no auth, loopback)</span>
            )}
          </div>
        </header>
        <main>
          <Page />
        </main>
      </div>
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById("app")!);
