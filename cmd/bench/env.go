package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/pglocal"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/secrets"
)

// benchEnv owns what the runs start.
type benchEnv struct {
	opts           options
	pg             *pglocal.Cluster
	stdout, stderr io.Writer
	procs          []*serverProc
}

// serverProc is a running `server serve`.
type serverProc struct {
	cmd  *exec.Cmd
	url  string
	logs *logging.Buffer
	done chan struct{}
}

// database creates a fresh database and returns its URL.
func (e *benchEnv) database(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, e.pg.URL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	u, err := url.Parse(e.pg.URL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// command runs a server subcommand to completion and returns its stdout.
func (e *benchEnv) command(ctx context.Context, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, e.opts.server, args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("server %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return strings.TrimSpace(out.String()), nil
}

// baseEnv is the environment every server process gets: nothing inherited from ours.
func (e *benchEnv) baseEnv(databaseURL string) []string {
	return []string{
		"DATABASE_URL=" + databaseURL,
		"PNONBOARD_ENCRYPTION_KEY=" + secrets.NewKey(),
		"PNONBOARD_LOG_LEVEL=warn",
		"PNONBOARD_DB_MAX_CONNS=" + strconv.Itoa(e.opts.dbMaxConns),
		"PATH=/usr/bin:/bin",
	}
}

// prepare migrates a database and makes an API key with every scope.
func (e *benchEnv) prepare(ctx context.Context, databaseURL string) (string, error) {
	env := e.baseEnv(databaseURL)
	if _, err := e.command(ctx, env, "migrate", "up"); err != nil {
		return "", err
	}
	var scopes []string
	for _, sc := range auth.AllScopes() {
		scopes = append(scopes, string(sc))
	}
	return e.command(ctx, env, "apikey", "create", "--name", "bench", "--scopes", strings.Join(scopes, ","))
}

// start runs `server serve` with env on a free loopback port and waits until it is ready.
func (e *benchEnv) start(ctx context.Context, env []string) (*serverProc, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	p := &serverProc{url: "http://" + addr, logs: &logging.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(e.opts.server, "serve")
	p.cmd.Env = append(env, "PNONBOARD_ADDR="+addr)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	e.procs = append(e.procs, p)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return nil, fmt.Errorf("server exited during start-up:\n%s", p.logs)
		case <-ctx.Done():
			return nil, ctx.Err()
		default:
		}
		if resp, err := http.Get(p.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("server not ready after 30s:\n%s", p.logs)
}

// stop ends a server as an orchestrator would (SIGTERM), killing it if it lingers.
func (p *serverProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// peakRSS is the process's resident-set high-water mark (VmHWM), in bytes.
func (p *serverProc) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", p.cmd.Process.Pid)
}

func (e *benchEnv) stopAll() {
	for _, p := range e.procs {
		p.stop()
	}
	e.procs = nil
}

// windowUse replays the sandbox's fixed rate-limit windows over the calls (a window opens at
// the first call after the last one ended, and lasts a minute) and reports how full the
// windows were that the run kept busy: every window but the last, where the work ran out.
// Against a fixed window, calls per minute over a short run can pass the limit (two windows'
// worth inside 61 s), so this, not calls/min, is what "used what PubNub allows" means.
func windowUse(calls []sandbox.Call, perMinute int) (full int, use float64) {
	at := make([]time.Time, len(calls))
	for i, c := range calls {
		at[i] = c.At
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	var counts []int
	var end time.Time
	for _, t := range at {
		if len(counts) == 0 || !t.Before(end) {
			counts = append(counts, 0)
			end = t.Add(time.Minute)
		}
		counts[len(counts)-1]++
	}
	if len(counts) < 2 {
		return 0, 0
	}
	sum := 0
	for _, n := range counts[:len(counts)-1] {
		sum += n
	}
	full = len(counts) - 1
	return full, float64(sum) / float64(full*perMinute)
}
