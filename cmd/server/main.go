// Command server runs pnonboard: the tenant onboarding API, its provisioning workers, and the
// commands around them (migrations, API keys, the PubNub sandbox, dev mode).
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "%s\n", err)
		os.Exit(1)
	}
}
