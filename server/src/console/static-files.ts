// Serves the console's static bundle (packages/console/dist): index.html for
// every page path (the console routes in the browser), hashed assets cached
// for good. Nothing is read from outside the bundle directory.
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json",
  ".map": "application/json",
};

/** What every console response carries: no framing by other sites, no sniffing, only our own scripts. */
export const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

interface File {
  body: Buffer;
  type: string;
}

/** Loads the bundle once (it is small and immutable while the server runs). */
export function staticFiles(dir: string | undefined): (req: IncomingMessage, res: ServerResponse) => void {
  const files = new Map<string, File>();
  const walk = (at: string) => {
    for (const entry of readdirSync(at)) {
      const full = path.join(at, entry);
      if (statSync(full).isDirectory()) walk(full);
      else
        files.set("/" + path.relative(dir!, full).split(path.sep).join("/"), {
          body: readFileSync(full),
          type: TYPES[path.extname(entry)] ?? "application/octet-stream",
        });
    }
  };
  if (dir) {
    try {
      walk(dir);
    } catch {
      files.clear();
    }
  }
  const index = files.get("/index.html");
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://console");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { ...SECURITY_HEADERS, allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
      return;
    }
    const file = files.get(url.pathname);
    if (file) {
      const immutable = url.pathname.startsWith("/assets/");
      res.writeHead(200, { ...SECURITY_HEADERS, "content-type": file.type, "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache" });
      res.end(req.method === "HEAD" ? undefined : file.body);
    } else if (index && !path.extname(url.pathname)) {
      res.writeHead(200, { ...SECURITY_HEADERS, "content-type": index.type, "cache-control": "no-cache" });
      res.end(req.method === "HEAD" ? undefined : index.body);
    } else if (!index) {
      res.writeHead(503, { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8" });
      res.end("The console's bundle is not built (packages/console/dist): run `npm run build`.\n");
    } else {
      res.writeHead(404, { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8" }).end("not found\n");
    }
  };
}
