// The servers outside the cluster. Emulates: Azure DNS at 168.63.129.16 (dnsmasq answering one test
// name with the internet host's address, nothing else), the wireserver (168.63.129.16 TCP 80 and 32526)
// and IMDS (169.254.169.254:80) as plain HTTP listeners, and an internet host whose HTTP server answers
// with the client address it saw. Leaves out: the real APIs behind those addresses, recursion to the
// internet, TLS.
import { join } from "node:path";
import { writeFileAtomic } from "../../sys/atomic-write.ts";
import { IMDS, WIRESERVER, WIRESERVER_TCP_PORTS } from "../../noderules/azure-endpoints.ts";
import { AZURE, INTERNET, INTERNET_IP } from "./topology.ts";
import { inNetns } from "./netns.ts";

export const DNS_NAME = "example.test";
export const HTTP_PORT = 80;
export const CLIENT_IP_PATH = "/cgi-bin/clientip";
export const ECHO_URL = `http://${INTERNET_IP}${CLIENT_IP_PATH}`;

const CLIENT_IP_CGI = `#!/bin/sh
# Answers with the address of the client that connected (busybox httpd sets REMOTE_ADDR).
printf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' "$REMOTE_ADDR"
`;

/** Writes the document roots: `www` serves the client-address CGI, `metadata` a plain page. */
async function writeDocumentRoots(root: string): Promise<{ www: string; metadata: string }> {
  const www = join(root, "www");
  const metadata = join(root, "metadata");
  await writeFileAtomic(join(www, "cgi-bin", "clientip"), CLIENT_IP_CGI, 0o755);
  await writeFileAtomic(join(metadata, "index.html"), "emulated Azure platform endpoint\n");
  return { www, metadata };
}

/** busybox httpd daemonizes after binding, so the server is listening when this returns. */
export async function startHttpd(ns: string, listen: string, documentRoot: string): Promise<void> {
  await inNetns(ns)("busybox", ["httpd", "-p", listen, "-h", documentRoot]);
}

/** dnsmasq daemonizes after binding; `extra` chooses what it answers. */
export async function startDnsmasq(ns: string, extra: string[]): Promise<void> {
  // prettier-ignore
  await inNetns(ns)("dnsmasq", [
    "--conf-file=/dev/null", "--no-hosts", "--no-resolv", "--user=root", "--pid-file=", "--cache-size=0",
    ...extra,
  ]);
}

export async function startEndpoints(root: string): Promise<{ www: string }> {
  const { www, metadata } = await writeDocumentRoots(root);
  await startDnsmasq(AZURE, [
    `--listen-address=${WIRESERVER}`,
    "--bind-interfaces",
    `--address=/${DNS_NAME}/${INTERNET_IP}`,
  ]);
  for (const port of WIRESERVER_TCP_PORTS) await startHttpd(AZURE, `${WIRESERVER}:${port}`, metadata);
  await startHttpd(AZURE, `${IMDS}:80`, metadata);
  await startHttpd(INTERNET, `${INTERNET_IP}:${HTTP_PORT}`, www);
  return { www };
}
