// A throwaway self-signed certificate for 127.0.0.1, made with openssl: the Azure SDK sends bearer
// tokens only over https, and node:crypto cannot make X.509 certificates.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../src/sys/exec.ts";

export interface TestCertificate {
  cert: string;
  key: string;
}

export async function selfSignedCertificate(): Promise<TestCertificate> {
  const directory = await mkdtemp(join(tmpdir(), "arm-tls-"));
  try {
    const keyFile = join(directory, "key.pem");
    const certFile = join(directory, "cert.pem");
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ]);
    return { cert: await readFile(certFile, "utf8"), key: await readFile(keyFile, "utf8") };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
