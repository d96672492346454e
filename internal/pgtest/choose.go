// Package pgtest gives tests a PostgreSQL database without asking anything of the machine
// beyond what `make test` already needs, as docs/ARCHITECTURE.md (Testing) describes:
//
//  1. TEST_DATABASE_URL, when set (the role must be allowed to CREATE DATABASE);
//  2. else the machine's PostgreSQL server binaries, started in a temp dir (see pglocal);
//  3. else a testcontainers Postgres, when a Docker engine answers;
//  4. else every database test skips, except under CI=true, where the run fails instead:
//     CI must never pass by skipping.
//
// A test package opts in with
//
//	func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }
//
// and its tests isolate themselves with NewDB (a fresh database cloned from a migrated
// template in a few milliseconds; commits, River clients and LISTEN/NOTIFY all work) or TestTx
// (a transaction rolled back at cleanup, cheaper still).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/pnonboard/pnonboard/internal/pglocal"
)

// Strategy names where the test database comes from.
type Strategy string

// The strategies, in the order they are tried.
const (
	StrategyURL       Strategy = "TEST_DATABASE_URL"
	StrategyLocal     Strategy = "local PostgreSQL binaries"
	StrategyContainer Strategy = "testcontainers"
	StrategySkip      Strategy = "skip"
)

// ErrNoDatabase is returned by Choose under CI=true when no strategy can provide a database.
var ErrNoDatabase = errors.New("no PostgreSQL available for tests")

// Env is what Choose looks at. Tests of the choice itself replace the probes.
type Env struct {
	// Getenv reads TEST_DATABASE_URL and CI.
	Getenv func(string) string
	// FindBinDir locates local server binaries; nil means pglocal.FindBinDir.
	FindBinDir func() (string, error)
	// DockerHealthy reports whether a Docker engine answers; nil means ask testcontainers.
	DockerHealthy func(ctx context.Context) error
}

// Decision is Choose's answer.
type Decision struct {
	Strategy Strategy
	// URL is set for StrategyURL; BinDir for StrategyLocal.
	URL, BinDir string
	// Reason explains the choice, and for StrategySkip why nothing else worked.
	Reason string
}

// Choose picks the strategy. It returns ErrNoDatabase (wrapped, with the reasons) instead of
// StrategySkip when CI is "true" (or "1").
func Choose(ctx context.Context, env Env) (Decision, error) {
	if url := env.Getenv("TEST_DATABASE_URL"); url != "" {
		return Decision{Strategy: StrategyURL, URL: url, Reason: "TEST_DATABASE_URL is set"}, nil
	}
	findBinDir := env.FindBinDir
	if findBinDir == nil {
		findBinDir = pglocal.FindBinDir
	}
	binDir, binErr := findBinDir()
	if binErr == nil {
		return Decision{Strategy: StrategyLocal, BinDir: binDir, Reason: "found server binaries in " + binDir}, nil
	}
	dockerHealthy := env.DockerHealthy
	if dockerHealthy == nil {
		dockerHealthy = dockerEngineHealthy
	}
	dockerErr := dockerHealthy(ctx)
	if dockerErr == nil {
		return Decision{Strategy: StrategyContainer, Reason: "a Docker engine answers"}, nil
	}
	reason := fmt.Sprintf("TEST_DATABASE_URL is unset; %v; no Docker engine (%v)", binErr, dockerErr)
	if isCI(env.Getenv("CI")) {
		return Decision{}, fmt.Errorf("%w under CI=true, which must not skip: %s", ErrNoDatabase, reason)
	}
	return Decision{Strategy: StrategySkip, Reason: reason}, nil
}

func isCI(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return v == "true" || v == "1"
}

// dockerEngineHealthy asks testcontainers' default provider for a health check, bounded so
// that an unreachable DOCKER_HOST cannot stall the test run.
func dockerEngineHealthy(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil { // some provider failures panic
			err = fmt.Errorf("docker provider: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	provider, err := testcontainers.ProviderDefault.GetProvider()
	if err != nil {
		return err
	}
	defer provider.Close()
	return provider.Health(ctx)
}
