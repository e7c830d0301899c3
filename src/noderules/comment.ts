// The comment every rule of ours carries, so `iptables-save` shows who wrote it and why.
export function comment(text: string): string[] {
  // iptables-save prints these escaped (the node's → the node\'s): a rule holding one never reads back
  // equal to what was rendered, so every comparison would call it drift and apply it again.
  if (/["'\\]/.test(text)) throw new Error(`an iptables comment may not hold quotes or backslashes: ${text}`);
  return ["-m", "comment", "--comment", `"aks-ipvlan: ${text}"`];
}
