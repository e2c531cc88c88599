// Routing by the address bar's path (the server answers index.html for every
// page path): /runs, /runs/<id>, /definitions, /definitions/<name>, /queues,
// /handlers, /handlers/<name>. Query parameters carry filters.
import { useEffect, useState } from "preact/hooks";

export interface Route {
  path: string[];
  query: URLSearchParams;
}

function current(): Route {
  return { path: location.pathname.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(location.search) };
}

const listeners = new Set<() => void>();

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  for (const l of listeners) l();
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const update = () => setRoute(current());
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return route;
}

/** Follows same-origin links without reloading the page. */
export function onLinkClick(event: MouseEvent): void {
  const a = (event.target as Element | null)?.closest?.("a");
  if (!a || a.target || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}

export const runLink = (id: string) => `/runs/${encodeURIComponent(id)}`;
export const defLink = (name: string, version?: number) => `/definitions/${encodeURIComponent(name)}${version ? `?version=${version}` : ""}`;
