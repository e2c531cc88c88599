// A page token is opaque to callers: the base64url text of a small JSON object
// the server wrote (the list or order it belongs to, and the key to go on
// after), read back as such or refused by its caller.

export function writePageToken(fields: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(fields)).toString("base64url");
}

/** The fields a token holds; empty when it is no token this server wrote. */
export function readPageToken(token: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString());
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
