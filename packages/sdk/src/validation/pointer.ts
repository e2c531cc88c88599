// JSON pointers (RFC 6901) so every issue names the exact place in the definition.

export function pointer(base: string, ...segments: (string | number)[]): string {
  let out = base;
  for (const s of segments) out += "/" + String(s).replace(/~/g, "~0").replace(/\//g, "~1");
  return out;
}
