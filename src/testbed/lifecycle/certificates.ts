// The credentials of a real kube-apiserver, made with openssl (node:crypto makes no X.509): a CA made
// at start, the API's serving certificate, an admin client certificate (system:masters) and the
// service-account signing key, all in one directory under fixed names (ca.crt, apiserver.crt,
// admin.crt, sa.key, sa.pub, each certificate with its .key) with the admin's kubeconfig. The
// lifecycle scenario's control plane and the tests' (test/realkube) both start from these.
import { join } from "node:path";
import { run } from "../../sys/exec.ts";
import { writeFileAtomic } from "../../sys/atomic-write.ts";

const EC_KEY = ["-pkeyopt", "ec_paramgen_curve:prime256v1"];

/** One key and certificate: self-signed (the CA) or signed by the CA with `extensions`. */
function certificate(dir: string, name: string, subject: string, extensions?: readonly string[]) {
  const file = (base: string) => join(dir, base);
  const signing = extensions
    ? [
        ...["-CA", file("ca.crt"), "-CAkey", file("ca.key")],
        // A leaf, not a CA (req -x509 would otherwise mark it as one).
        ...["basicConstraints=critical,CA:FALSE", ...extensions].flatMap((value) => ["-addext", value]),
      ]
    : [];
  // prettier-ignore
  return run("openssl", [
    "req", "-x509", "-newkey", "ec", ...EC_KEY, "-nodes", "-days", "1", "-subj", subject, ...signing,
    "-keyout", file(`${name}.key`), "-out", file(`${name}.crt`),
  ]);
}

/** `subjectAltNames` as openssl spells them: IP:10.0.0.1, DNS:localhost. */
export async function makeControlPlaneCredentials(
  dir: string,
  options: { subjectAltNames: readonly string[] },
): Promise<void> {
  await certificate(dir, "ca", "/CN=aks-ipvlan-test-ca");
  await certificate(dir, "apiserver", "/CN=kube-apiserver", [
    `subjectAltName=${options.subjectAltNames.join(",")}`,
    "extendedKeyUsage=serverAuth",
  ]);
  await certificate(dir, "admin", "/O=system:masters/CN=aks-ipvlan-test-admin", [
    "extendedKeyUsage=clientAuth",
  ]);
  await run("openssl", ["genpkey", "-algorithm", "EC", ...EC_KEY, "-out", join(dir, "sa.key")]);
  await run("openssl", ["pkey", "-in", join(dir, "sa.key"), "-pubout", "-out", join(dir, "sa.pub")]);
}

/** Writes `dir`/admin.kubeconfig: the admin's certificate against `server`, trusting the CA; returns its path. */
export async function writeAdminKubeconfig(dir: string, server: string): Promise<string> {
  const file = join(dir, "admin.kubeconfig");
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "control-plane", cluster: { server, "certificate-authority": join(dir, "ca.crt") } }],
    users: [
      {
        name: "admin",
        user: { "client-certificate": join(dir, "admin.crt"), "client-key": join(dir, "admin.key") },
      },
    ],
    contexts: [{ name: "control-plane", context: { cluster: "control-plane", user: "admin" } }],
    "current-context": "control-plane",
  };
  await writeFileAtomic(file, JSON.stringify(config), 0o600);
  return file;
}
