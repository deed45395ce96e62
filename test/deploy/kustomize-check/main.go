// kustomize-check renders a kustomize directory with kustomize's own library (sigs.k8s.io/kustomize/api,
// what `kubectl apply -k` runs): generators, name hashes, image overrides and the references between
// objects, without a cluster or kubectl. It prints the rendered objects as YAML; on an error it prints it
// and exits 1. test/deploy/kubernetes-build.integration.test.ts runs it on deploy/kubernetes.
//
//	go run . ../../../deploy/kubernetes
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kustomize-check DIR")
		os.Exit(2)
	}
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := resources.AsYaml()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := os.Stdout.Write(out); err != nil {
		os.Exit(1)
	}
}
