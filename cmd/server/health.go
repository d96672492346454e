package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

const healthUsage = `usage: server health [--addr ADDR] [--timeout DURATION]

Asks a running server (or server sandbox) for GET http://ADDR/healthz and exits 0 when it
answers 200, 1 otherwise. It is the image's HEALTHCHECK: distroless has no curl. ADDR defaults
to PNONBOARD_ADDR (default :8080); an empty or wildcard host is reached on loopback.

flags:
  --addr ADDR          the server's address (default $PNONBOARD_ADDR)
  --timeout DURATION   how long to wait for the answer (default 3s)
`

// runHealth probes /healthz: the container health check, since the image has no HTTP client
// but this binary.
func runHealth(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	p := envParser{getenv: getenv}
	def := p.addr("PNONBOARD_ADDR", ":8080")
	if err := p.err(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), healthUsage) }
	addr := fs.String("addr", def, "the server's address")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if help, err := parseFlags(fs, args, stderr); help || err != nil {
		return err
	}
	target, err := probeAddr(*addr)
	if err != nil {
		return fmt.Errorf("health: --addr: %w", err)
	}
	url := "http://" + target + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	// No proxy: the probe is for this host's own server.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: GET %s answered %d", url, resp.StatusCode)
	}
	fmt.Fprintf(stdout, "healthy: GET %s answered 200\n", url)
	return nil
}

// probeAddr is where to reach a server listening on addr: an empty or wildcard host
// (":8080", "0.0.0.0:8080", "[::]:8080") means this machine's loopback.
func probeAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", fmt.Errorf("must be host:port or :port (got %q)", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}
