// Where the client connects and how: the address, TLS (inline PEM or files,
// from BATON_TLS_* by default) and the API key, which is never sent in
// plaintext beyond loopback unless the caller opts in.
import { grpc } from "@baton/protocol";
import { readFileSync } from "node:fs";

export const DEFAULT_ADDRESS = "127.0.0.1:7233";

export interface ClientOptions {
  /** host:port; BATON_ADDRESS, else 127.0.0.1:7233. */
  address?: string;
  /** Sent as `authorization: Bearer <token>`; BATON_TOKEN by default. */
  token?: string;
  /** Channel credentials, taking precedence over `tls` (insecure by default, for loopback). */
  credentials?: grpc.ChannelCredentials;
  /**
   * TLS to the server. `true`: the system's trusted CAs. Each field is PEM
   * text or a file path: `ca` to trust (a private CA), `cert` + `key` for mutual TLS,
   * `serverName` to check the certificate against instead of the address's host.
   * Default from BATON_TLS_CA, BATON_TLS_CLIENT_CERT, BATON_TLS_CLIENT_KEY,
   * BATON_TLS_SERVER_NAME, or BATON_TLS=1 (system CAs); plaintext when none is set.
   */
  tls?: boolean | TlsClientOptions;
  /**
   * Send the token over a plaintext channel to a host that is not loopback
   * (behind a mesh or tunnel that encrypts). Refused otherwise: anyone on the
   * path could read and reuse the key. Default from BATON_ALLOW_PLAINTEXT_TOKEN=1.
   */
  allowPlaintextToken?: boolean;
}

/** Whether a target's host is this machine (a Unix socket, localhost, 127.0.0.0/8, ::1). */
export function isLoopbackAddress(address: string): boolean {
  if (address.startsWith("unix:")) return true;
  const target = address.replace(/^dns:(\/\/[^/]*\/)?/, "").replace(/^ipv[46]:/, "");
  const host = target.startsWith("[") ? target.slice(1, target.indexOf("]")) : target.replace(/:\d+$/, "");
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export interface TlsClientOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  serverName?: string;
}

/** PEM given inline, or the contents of the file it names. */
function pem(value: string | Buffer): Buffer {
  if (Buffer.isBuffer(value)) return value;
  return value.includes("-----BEGIN") ? Buffer.from(value) : readFileSync(value);
}

/** TLS settings from BATON_TLS_* (undefined: plaintext). */
export function tlsFromEnv(env: NodeJS.ProcessEnv = process.env): TlsClientOptions | undefined {
  const get = (name: string) => env[name] || undefined;
  const ca = get("BATON_TLS_CA");
  const cert = get("BATON_TLS_CLIENT_CERT");
  const key = get("BATON_TLS_CLIENT_KEY");
  const serverName = get("BATON_TLS_SERVER_NAME");
  if (!ca && !cert && !key && !serverName && !/^(1|true|yes)$/i.test(get("BATON_TLS") ?? "")) return undefined;
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(serverName ? { serverName } : {}) };
}

function channelSecurity(options: ClientOptions): { credentials: grpc.ChannelCredentials; channelOptions: Record<string, string> } {
  if (options.credentials) return { credentials: options.credentials, channelOptions: {} };
  const tls = options.tls === true ? {} : options.tls === false ? undefined : (options.tls ?? tlsFromEnv());
  if (!tls) return { credentials: grpc.credentials.createInsecure(), channelOptions: {} };
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new Error("TLS: a client certificate needs its key, and a key its certificate");
  return {
    credentials: grpc.credentials.createSsl(
      tls.ca !== undefined ? pem(tls.ca) : null,
      tls.key !== undefined ? pem(tls.key) : null,
      tls.cert !== undefined ? pem(tls.cert) : null,
    ),
    channelOptions: tls.serverName ? { "grpc.ssl_target_name_override": tls.serverName, "grpc.default_authority": tls.serverName } : {},
  };
}

/** The channel to the server and the metadata every call carries (the key). */
export function openChannel(options: ClientOptions): { address: string; channel: grpc.Client; defaults: { metadata?: () => grpc.Metadata } } {
  const address = options.address ?? process.env["BATON_ADDRESS"] ?? DEFAULT_ADDRESS;
  const token = options.token ?? process.env["BATON_TOKEN"];
  const security = channelSecurity(options);
  const plaintextAllowed = options.allowPlaintextToken ?? /^(1|true|yes)$/i.test(process.env["BATON_ALLOW_PLAINTEXT_TOKEN"] ?? "");
  if (token && !security.credentials._isSecure() && !isLoopbackAddress(address) && !plaintextAllowed) {
    throw new Error(
      `refusing to send an API key in plaintext to ${address} (not a loopback address): connect with TLS (tls: …, or BATON_TLS_CA / BATON_TLS=1), ` +
        "or, on a network that encrypts for you, opt in with allowPlaintextToken: true (BATON_ALLOW_PLAINTEXT_TOKEN=1)",
    );
  }
  const channel = new grpc.Client(address, security.credentials, {
    ...security.channelOptions,
    "grpc.keepalive_time_ms": 30_000,
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
  });
  const metadata = token
    ? () => {
        const m = new grpc.Metadata();
        m.set("authorization", `Bearer ${token}`);
        return m;
      }
    : undefined;
  const defaults = metadata ? { metadata } : {};
  return { address, channel, defaults };
}
