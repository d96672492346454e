package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/logging"
)

// childArgsEnv carries a child process's arguments (see TestMain).
const childArgsEnv = "PNONBOARD_TEST_CHILD_ARGS"

// childMain is main for a child process: run with the real environment and signals.
func childMain(args []string) int {
	if err := run(context.Background(), append([]string{"server"}, args...), os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		return 1
	}
	return 0
}

// process is this test binary started again as a real server process, to be killed for real.
type process struct {
	cmd            *exec.Cmd
	Stdout, Stderr *logging.Buffer
	done           chan struct{}
	err            error
}

// startProcess starts the server as a child process with args and exactly env (plus PATH),
// and kills it at cleanup if it still runs.
func startProcess(t *testing.T, args []string, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), childArgsEnv + "=" + strings.Join(args, " ")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, Stdout: &logging.Buffer{}, Stderr: &logging.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	require.NoError(t, cmd.Start())
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.signal(syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("child %v stderr (tail):\n%s", args, tail(p.Stderr.String(), 60))
		}
	})
	return p
}

func (p *process) signal(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill(t *testing.T) {
	t.Helper()
	p.signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("process still running 10 s after SIGKILL")
	}
}

// wait waits for the process to exit by itself and returns how it ended.
func (p *process) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(limit):
		t.Fatalf("process still running after %s; stderr:\n%s", limit, tail(p.Stderr.String(), 40))
		return nil
	}
}

var listeningLine = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)","role":"[a-z]+","client_id":"([^"]*)"`)

// listening waits for the server's "listening" log line and returns its address and River
// client ID.
func (p *process) listening(t *testing.T) (addr, clientID string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningLine.FindStringSubmatch(p.Stderr.String()); m != nil {
			return m[1], m[2]
		}
		select {
		case <-p.done:
			t.Fatalf("process exited before listening: %v\n%s", p.err, tail(p.Stderr.String(), 40))
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("process not listening after a minute:\n%s", tail(p.Stderr.String(), 40))
	return "", ""
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}
