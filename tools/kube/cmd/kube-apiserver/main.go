// kube-apiserver for the tests: the upstream command of the k8s.io/kubernetes release that
// tools/kube/go.mod names, so the product's client meets the real API server, RBAC and admission.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
