// etcd for the tests' kube-apiserver: the upstream server's own main, from the release that
// tools/etcd/go.mod names (its own module, so its dependencies do not meet Kubernetes' ones).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
