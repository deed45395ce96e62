// compose-check loads a compose file with compose-go, the library Docker Compose itself loads files with:
// the Compose Specification's schema (service keys, depends_on conditions, healthchecks, configs and
// secrets), interpolation and path resolution, without a Docker engine. It prints each service's image,
// dependencies with their conditions, and whether it has a health check, as JSON; on an invalid file it
// prints the loader's error and exits 1. test/deploy/compose-spec.integration.test.ts runs it.
//
//	go run . ../../../docker-compose.yml
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

type service struct {
	Image       string            `json:"image"`
	DependsOn   map[string]string `json:"dependsOn"`
	HealthCheck bool              `json:"healthCheck"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-check COMPOSE_FILE")
		os.Exit(2)
	}
	file, err := filepath.Abs(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions([]string{file}, cli.WithWorkingDirectory(filepath.Dir(file)), cli.WithName("quickmig"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	services := map[string]service{}
	for name, s := range project.Services {
		deps := map[string]string{}
		for dep, d := range s.DependsOn {
			deps[dep] = d.Condition
		}
		services[name] = service{Image: s.Image, DependsOn: deps, HealthCheck: s.HealthCheck != nil && !s.HealthCheck.Disable}
	}
	out, _ := json.Marshal(services)
	fmt.Println(string(out))
}
