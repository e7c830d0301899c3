// The comment every rule of ours carries, so `iptables-save` shows who wrote it and why.
export function comment(text: string): string[] {
  return ["-m", "comment", "--comment", `"aks-ipvlan: ${text}"`];
}
