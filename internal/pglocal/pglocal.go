// Package pglocal runs the machine's own PostgreSQL server binaries as a child process: a
// throwaway cluster for tests, or a persistent one under a data directory for dev mode.
//
// When the current user is root, initdb and postgres run as the "postgres" OS user (initdb
// refuses root). The server listens on 127.0.0.1 only, with Unix sockets off, and lives in its
// own process group so that a terminal's Ctrl-C reaches pnonboard first: pnonboard drains and
// then stops the server. If pnonboard dies without stopping it, the kernel signals the server
// (Pdeathsig), so no postgres process outlives its parent.
package pglocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries is returned by FindBinDir when no PostgreSQL server binaries are installed.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (looked at `pg_config --bindir` and /usr/lib/postgresql/*/bin)")

// Opts configures Start. A nil *Opts means a throwaway cluster with defaults.
type Opts struct {
	// DataDir holds the cluster. Empty means a new temporary directory that Stop removes; a
	// non-empty DataDir is kept and reused by the next Start (dev mode).
	DataDir string
	// BinDir holds initdb and postgres; empty means FindBinDir.
	BinDir string
	// Port to listen on at 127.0.0.1; zero picks a free one.
	Port int
	// Durable keeps fsync and synchronous commit on. Throwaway clusters turn them off.
	Durable bool
	// MaxConnections for the server; zero means 300 (tests open many small pools).
	MaxConnections int
}

// Cluster is a running server started by Start.
type Cluster struct {
	// URL connects as the superuser "postgres" to the "postgres" database.
	URL string
	// DataDir is where the cluster's files live; LogFile receives the server's output.
	DataDir, LogFile string
	// Reused reports whether Start found an existing cluster in DataDir instead of creating one.
	Reused bool

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the server process has exited
	tempDir string        // removed by Stop when the cluster is throwaway

	// What Restart needs to start the same server again.
	binDir string
	port   int
	cred   *syscall.Credential
	opts   Opts
}

// FindBinDir locates the PostgreSQL server binaries: `pg_config --bindir` first, then the
// newest /usr/lib/postgresql/*/bin (Debian's layout).
func FindBinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start initialises (when needed) and starts a cluster, and waits until it accepts
// connections. The caller must call Stop.
func Start(ctx context.Context, opts *Opts) (_ *Cluster, retErr error) {
	if opts == nil {
		opts = &Opts{}
	}
	binDir := opts.BinDir
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}

	c := &Cluster{exited: make(chan struct{})}
	base := opts.DataDir
	if base == "" {
		if c.tempDir, err = os.MkdirTemp("", "pnonboard-pg-"); err != nil {
			return nil, fmt.Errorf("create temp dir: %w", err)
		}
		base = c.tempDir
		defer func() {
			if retErr != nil {
				_ = os.RemoveAll(c.tempDir)
			}
		}()
	} else if base, err = filepath.Abs(base); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := chownFor(cred, base); err != nil {
		return nil, err
	}
	if err := checkReachable(cred, base); err != nil {
		return nil, err
	}
	c.DataDir = filepath.Join(base, "data")
	c.LogFile = filepath.Join(base, "postgres.log")

	if _, err := os.Stat(filepath.Join(c.DataDir, "PG_VERSION")); err == nil {
		c.Reused = true
		if pid, alive := runningPostmaster(c.DataDir); alive {
			return nil, fmt.Errorf("a postgres server (pid %d) is already running on %s; stop the other instance first", pid, c.DataDir)
		}
	} else {
		if err := initdb(ctx, binDir, c.DataDir, cred, !opts.Durable); err != nil {
			return nil, err
		}
	}

	port := opts.Port
	if port == 0 || !portFree(port) {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	c.binDir, c.port, c.cred, c.opts = binDir, port, cred, *opts
	if err := c.startServer(binDir, port, cred, opts); err != nil {
		return nil, err
	}
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := c.waitReady(ctx, 60*time.Second); err != nil {
		_ = c.Stop(context.Background())
		return nil, err
	}
	return c, nil
}

func initdb(ctx context.Context, binDir, dataDir string, cred *syscall.Credential, noSync bool) error {
	args := []string{"-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"}
	if noSync {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), args...)
	cmd.Env = childEnv()
	cmd.Dir = filepath.Dir(dataDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", dataDir, err, lastLines(out, 20))
	}
	return nil
}

func (c *Cluster) startServer(binDir string, port int, cred *syscall.Credential, opts *Opts) error {
	maxConns := opts.MaxConnections
	if maxConns == 0 {
		maxConns = 300
	}
	args := []string{
		"-D", c.DataDir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=" + strconv.Itoa(maxConns),
	}
	if !opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	logf, err := os.OpenFile(c.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open postgres log: %w", err)
	}
	defer logf.Close() // the child holds its own descriptor

	signal := syscall.SIGQUIT // immediate shutdown: throwaway data
	if opts.Durable {
		signal = syscall.SIGINT // fast shutdown: a clean checkpoint
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Env = childEnv()
	cmd.Dir = filepath.Dir(c.DataDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		Setpgid:    true,   // keep terminal signals away from the server
		Pdeathsig:  signal, // and stop it if we die without stopping it
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(c.exited)
	}()
	return nil
}

func (c *Cluster) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.URL)
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("postgres exited during start-up; log %s:\n%s", c.LogFile, tail(c.LogFile))
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready after %s (%w); log %s:\n%s", limit, err, c.LogFile, tail(c.LogFile))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop shuts the server down (fast for a durable cluster, immediate for a throwaway one),
// waits for it to exit, kills it if ctx ends first, and removes a throwaway cluster's files.
func (c *Cluster) Stop(ctx context.Context) error {
	var errs []error
	if c.cmd != nil && c.cmd.Process != nil {
		select {
		case <-c.exited:
		default:
			sig := syscall.SIGQUIT
			if c.tempDir == "" {
				sig = syscall.SIGINT
			}
			_ = c.cmd.Process.Signal(sig)
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			select {
			case <-c.exited:
			case <-ctx.Done():
				_ = c.cmd.Process.Kill()
				<-c.exited
				errs = append(errs, fmt.Errorf("postgres did not stop in time; killed"))
			}
		}
	}
	if c.tempDir != "" {
		if err := os.RemoveAll(c.tempDir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", c.tempDir, err))
		}
	}
	return errors.Join(errs...)
}

// Restart stops the server with a fast shutdown (what `pg_ctl restart -m fast` does: every
// session is cut, committed work is kept) and starts it again on the same port and data, for
// tests of a database that goes away under a running service. It returns once the server
// accepts connections again; down, if not nil, runs while it is stopped.
func (c *Cluster) Restart(ctx context.Context, down func()) error {
	select {
	case <-c.exited:
	default:
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if down != nil {
		down()
	}
	c.exited = make(chan struct{})
	if err := c.startServer(c.binDir, c.port, c.cred, &c.opts); err != nil {
		return err
	}
	return c.waitReady(ctx, 60*time.Second)
}

// Exited is closed when the server process has exited, whatever the reason.
func (c *Cluster) Exited() <-chan struct{} { return c.exited }

// PID is the postmaster's process ID.
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

// serverCredential returns the identity initdb and postgres run as: nil (ourselves) unless we
// are root, in which case the "postgres" OS user.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the \"postgres\" OS user to run the server (initdb refuses root): %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func chownFor(cred *syscall.Credential, dir string) error {
	if cred == nil {
		return nil
	}
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("hand %s to the postgres user: %w", dir, err)
	}
	return nil
}

// Reachable reports (as an error saying how to fix it) whether the server's OS user can reach
// dir: when we run as root the server runs as "postgres", and a checkout under /root (mode
// 0700) keeps it out.
func Reachable(dir string) error {
	cred, err := serverCredential()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	return checkReachable(cred, abs)
}

// checkReachable fails early, with the fix, when the server user cannot reach dir: the common
// case is a checkout under /root, whose mode keeps other users out.
func checkReachable(cred *syscall.Credential, dir string) error {
	if cred == nil {
		return nil
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("stat %s: %w", d, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		reachable := fi.Mode().Perm()&0o001 != 0 ||
			(ok && st.Uid == cred.Uid && fi.Mode().Perm()&0o100 != 0) ||
			(ok && st.Gid == cred.Gid && fi.Mode().Perm()&0o010 != 0)
		if !reachable {
			return fmt.Errorf("the postgres OS user cannot reach %s because %s is mode %o; run `chmod o+x %s` or choose a data dir elsewhere", dir, d, fi.Mode().Perm(), d)
		}
		if d == "/" {
			return nil
		}
	}
}

// runningPostmaster reports whether postmaster.pid names a live process.
func runningPostmaster(dataDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return 0, false
	}
	// Signal 0 checks existence; EPERM still means it exists.
	if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
		return pid, true
	}
	return 0, false
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// childEnv is the whole environment of the server processes: nothing of ours leaks into them.
func childEnv() []string { return []string{"LC_ALL=C", "TZ=UTC"} }

func tail(path string) string {
	b, _ := os.ReadFile(path)
	return lastLines(b, 20)
}

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
