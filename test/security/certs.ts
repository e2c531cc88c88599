// Throwaway certificates for TLS tests, made with the openssl command line
// (Node cannot issue certificates by itself): a CA, a server certificate for
// 127.0.0.1/localhost, a client certificate, and a client certificate from a
// CA the server does not trust.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface Certs {
  dir: string;
  /** File paths. */
  files: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; rogueCert: string; rogueKey: string };
  /** PEM contents. */
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  rogueCert: Buffer;
  rogueKey: Buffer;
  remove(): void;
}

export function makeCerts(): Certs {
  const dir = mkdtempSync(path.join(tmpdir(), "baton-certs-"));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => {
    try {
      return execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new Error("the TLS tests need the openssl command (Debian: apt-get install -y openssl)");
      throw error;
    }
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

  const ca = (name: string) =>
    openssl("req", "-x509", ...ec, "-keyout", file(`${name}.key`), "-out", file(`${name}.pem`), "-days", "2", "-subj", `/CN=${name}`);
  const leaf = (name: string, signer: string, ext: string) => {
    writeFileSync(file(`${name}.ext`), ext);
    openssl("req", "-new", ...ec, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`), "-subj", `/CN=${name}`);
    openssl(
      "x509",
      "-req",
      "-in",
      file(`${name}.csr`),
      "-CA",
      file(`${signer}.pem`),
      "-CAkey",
      file(`${signer}.key`),
      "-CAcreateserial",
      "-out",
      file(`${name}.pem`),
      "-days",
      "2",
      "-extfile",
      file(`${name}.ext`),
    );
  };
  ca("baton-test-ca");
  ca("rogue-ca");
  leaf("server", "baton-test-ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  leaf("client", "baton-test-ca", "extendedKeyUsage=clientAuth\n");
  leaf("rogue", "rogue-ca", "extendedKeyUsage=clientAuth\n");

  const files = {
    ca: file("baton-test-ca.pem"),
    serverCert: file("server.pem"),
    serverKey: file("server.key"),
    clientCert: file("client.pem"),
    clientKey: file("client.key"),
    rogueCert: file("rogue.pem"),
    rogueKey: file("rogue.key"),
  };
  return {
    dir,
    files,
    ca: readFileSync(files.ca),
    serverCert: readFileSync(files.serverCert),
    serverKey: readFileSync(files.serverKey),
    clientCert: readFileSync(files.clientCert),
    clientKey: readFileSync(files.clientKey),
    rogueCert: readFileSync(files.rogueCert),
    rogueKey: readFileSync(files.rogueKey),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
