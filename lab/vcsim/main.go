// Command quickmig-vcsim runs one simulated ESXi host or vCenter for the quickmig lab.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	specFile := flag.String("spec", "", "absolute path of the endpoint spec (JSON)")
	flag.Parse()
	log.SetOutput(os.Stderr) // vcsim logs through the standard logger: never on stdout
	if *specFile == "" {
		fmt.Fprintln(os.Stderr, "quickmig-vcsim: --spec is required")
		os.Exit(1)
	}
	spec, err := LoadSpec(*specFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickmig-vcsim:", err)
		os.Exit(1)
	}
	l, err := NewLauncher(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickmig-vcsim:", err)
		os.Exit(1)
	}
	ready, _ := json.Marshal(map[string]any{
		"ready": true, "name": spec.Name, "url": l.URL, "thumbprint": l.Thumb, "certFile": l.CertFile, "pid": os.Getpid(),
	})
	fmt.Fprintln(os.Stdout, string(ready))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s := <-sig
	l.logf("%s: stopping", s)
	l.Stop()
	os.Exit(0)
}
