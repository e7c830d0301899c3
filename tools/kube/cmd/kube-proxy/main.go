// kube-proxy for the emulated AKS: the upstream command of the k8s.io/kubernetes release that
// tools/kube/go.mod names, in place of a hand-written imitation of its Service rules.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-proxy/app"
)

func main() {
	os.Exit(cli.Run(app.NewProxyCommand()))
}
