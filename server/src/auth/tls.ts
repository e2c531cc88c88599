// TLS for the gRPC port: a server certificate and key, and optionally the CA
// that client certificates must chain to (mutual TLS).
import { readFileSync } from "node:fs";
import { grpc } from "@baton/protocol";

export interface TlsOptions {
  /** PEM text or a file path: the server's certificate (chain). */
  cert: string | Buffer;
  /** PEM text or a file path: its private key. */
  key: string | Buffer;
  /** PEM text or a file path: CA bundle that client certificates are checked against. */
  ca?: string | Buffer;
  /** Refuse clients without a certificate signed by `ca` (mutual TLS). */
  requireClientCert?: boolean;
}

/** PEM given inline, or the contents of the file it names. */
export function readPem(value: string | Buffer, what: string): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value.includes("-----BEGIN")) return Buffer.from(value);
  try {
    return readFileSync(value);
  } catch (error) {
    throw new Error(`cannot read the TLS ${what} ${value}: ${(error as Error).message}`);
  }
}

export function serverCredentials(tls: TlsOptions | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  if (tls.requireClientCert && !tls.ca) throw new Error("TLS: requiring client certificates needs the CA that signs them (tls.ca / BATON_TLS_CA)");
  const ca = tls.ca ? readPem(tls.ca, "CA") : null;
  return grpc.ServerCredentials.createSsl(
    ca,
    [{ cert_chain: readPem(tls.cert, "certificate"), private_key: readPem(tls.key, "key") }],
    tls.requireClientCert ?? false,
  );
}
