// API keys must not cross a network in cleartext. A server that requires keys
// and listens beyond loopback without TLS is refused at start, unless the
// operator says it sits behind something that encrypts (a TLS-terminating
// proxy, a mesh): then it starts and warns.
export interface Listener {
  /** What the port serves, for the message. */
  name: string;
  host: string;
  tls: boolean;
}

export const PLAINTEXT_KEYS_FLAG = "--insecure-allow-plaintext-keys (BATON_INSECURE_ALLOW_PLAINTEXT_KEYS=1)";

/** The listeners that would carry keys in cleartext beyond this machine. */
export function plaintextKeyListeners(listeners: Listener[], isLoopback: (host: string) => boolean): Listener[] {
  return listeners.filter((l) => !l.tls && !isLoopback(l.host));
}

/** The refusal's text: what would leak, and the three ways out. */
export function plaintextKeysRefusal(exposed: Listener[]): string {
  const where = exposed.map((l) => `${l.name} on ${l.host}`).join(", ");
  return (
    `refusing to start: API keys are required but would travel in cleartext (${where}). ` +
    "Serve TLS (--tls-cert/--tls-key, BATON_TLS_CERT/BATON_TLS_KEY; the Conductor REST and console ports have none, so keep them on loopback), " +
    `listen on loopback, or, behind a proxy or mesh that encrypts, pass ${PLAINTEXT_KEYS_FLAG}`
  );
}
