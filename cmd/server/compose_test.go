package main

import (
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/pnonboard/pnonboard/internal/auth"
)

// composeFile is the part of docker-compose.yml the test reads.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Build       any               `yaml:"build"`
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Healthcheck *struct {
		Test    []string `yaml:"test"`
		Disable bool     `yaml:"disable"`
	} `yaml:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

// TestCompose holds docker-compose.yml and the Dockerfile to what README promises, since no
// Docker engine runs the tests: one image built once, state in named volumes (tenants and the
// sandbox's resources survive down && up), health checks the distroless image can run, and
// ports on 127.0.0.1 only.
func TestCompose(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docker-compose.yml")
	require.NoError(t, err)
	var cf composeFile
	require.NoError(t, yaml.Unmarshal(raw, &cf))
	dockerfile, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)

	const app = "pnonboard"
	require.Contains(t, cf.Services, app)
	require.Contains(t, cf.Services, "sandbox")
	require.Contains(t, cf.Services, "migrate")
	require.Contains(t, cf.Services, "postgres")

	// namedVolume returns the named volume mounted at target, failing unless it is declared.
	namedVolume := func(t *testing.T, svc composeService, target string) string {
		t.Helper()
		for _, v := range svc.Volumes {
			name, at, ok := strings.Cut(v, ":")
			if ok && strings.TrimSuffix(at, ":rw") == target {
				require.NotContains(t, name, "/", "%s is a named volume, not a bind mount", v)
				require.Contains(t, cf.Volumes, name, "volume %s is declared", name)
				return name
			}
		}
		t.Fatalf("no volume at %s in %v", target, svc.Volumes)
		return ""
	}

	t.Run("OneImageBuiltOnce", func(t *testing.T) {
		t.Parallel()
		built := cf.Services[app]
		require.NotNil(t, built.Build, "the pnonboard service builds the image")
		require.NotEmpty(t, built.Image, "and names it, for the others to share")
		for name, svc := range cf.Services {
			if name == app || name == "postgres" {
				continue
			}
			require.Nil(t, svc.Build, "%s uses the one image instead of building its own", name)
			require.Equal(t, built.Image, svc.Image, name)
		}
	})

	t.Run("PortsOnLoopbackOnly", func(t *testing.T) {
		t.Parallel()
		for name, svc := range cf.Services {
			for _, p := range svc.Ports {
				require.True(t, strings.HasPrefix(p, "127.0.0.1:"), "%s publishes %q beyond 127.0.0.1", name, p)
			}
		}
		require.Equal(t, []string{"127.0.0.1:8080:8080"}, cf.Services[app].Ports)
		require.Equal(t, ":8080", cf.Services[app].Environment["PNONBOARD_ADDR"], "the container listens where the port and the health check point")
	})

	t.Run("StateSurvivesDownAndUp", func(t *testing.T) {
		t.Parallel()
		namedVolume(t, cf.Services["postgres"], "/var/lib/postgresql/data")

		sb := cf.Services["sandbox"]
		require.Equal(t, "sandbox", sb.Command[0])
		state := sb.Environment["PNONBOARD_SANDBOX_STATE_FILE"]
		if i := slices.Index(sb.Command, "--state"); i >= 0 {
			state = sb.Command[i+1]
		}
		require.NotEmpty(t, state, "the sandbox keeps a state file (--state or PNONBOARD_SANDBOX_STATE_FILE)")
		dir := path.Dir(state)
		namedVolume(t, sb, dir)
		// Docker gives an empty named volume the image directory's owner: it must exist in the
		// image and belong to nonroot, or the sandbox cannot write its state.
		require.Regexp(t, regexp.MustCompile(`(?m)^COPY --from=build --chown=65532:65532 \S+ `+regexp.QuoteMeta(dir)+`$`), string(dockerfile))
		require.Regexp(t, `(?m)^USER nonroot`, string(dockerfile))
	})

	t.Run("HealthChecks", func(t *testing.T) {
		t.Parallel()
		require.Regexp(t, `(?m)^HEALTHCHECK .*CMD \["/server", "health"\]$`, string(dockerfile))
		require.Nil(t, cf.Services[app].Healthcheck, "pnonboard keeps the image's HEALTHCHECK")

		sb := cf.Services["sandbox"]
		i := slices.Index(sb.Command, "--addr")
		require.GreaterOrEqual(t, i, 0)
		port := sb.Command[i+1][strings.LastIndex(sb.Command[i+1], ":"):]
		require.NotNil(t, sb.Healthcheck)
		require.Equal(t, []string{"CMD", "/server", "health", "--addr", "127.0.0.1" + port}, sb.Healthcheck.Test)
		require.Equal(t, []string{"127.0.0.1" + port + port}, sb.Ports)
		require.Equal(t, "service_healthy", cf.Services[app].DependsOn["sandbox"].Condition)

		require.True(t, cf.Services["migrate"].Healthcheck.Disable, "the one-shot migration is not a server")
		require.Equal(t, "service_completed_successfully", cf.Services[app].DependsOn["migrate"].Condition)
	})

	t.Run("DocumentedInREADME", func(t *testing.T) {
		t.Parallel()
		docker := string(readme)[strings.Index(string(readme), "\n## Docker\n"):]
		docker = docker[:strings.Index(docker[1:], "\n## ")+1]
		require.Contains(t, docker, "docker compose run --rm "+app+" apikey create")

		// The first key's one-liner, in README's Docker section, in docker-compose.yml and in
		// README's "Your first key", grants every scope there is, in the same words.
		var want []string
		for _, s := range auth.AllScopes() {
			want = append(want, string(s))
		}
		scopesOf := func(t *testing.T, where, text string) []string {
			t.Helper()
			m := regexp.MustCompile(`apikey create [^\n]*(?:\\\n[^\n]*)?--scopes (\S+)`).FindStringSubmatch(text)
			require.NotNil(t, m, "%s has an apikey create --scopes line", where)
			got := strings.Split(m[1], ",")
			require.ElementsMatch(t, want, got, "%s: the first key gets every scope in internal/auth", where)
			return got
		}
		firstKey := string(readme)[strings.Index(string(readme), "**Your first key**"):]
		inReadme := scopesOf(t, "README, Your first key", firstKey)
		require.Equal(t, inReadme, scopesOf(t, "README, Docker", docker), "the same list, in the same order")
		require.Equal(t, inReadme, scopesOf(t, "docker-compose.yml", string(raw)), "the same list, in the same order")
		require.Contains(t, docker, "PNONBOARD_ENCRYPTION_KEY")
		require.Contains(t, docker, "docker compose down && docker compose up")
		require.Contains(t, cf.Services[app].Environment["PNONBOARD_ENCRYPTION_KEY"], "${PNONBOARD_ENCRYPTION_KEY:?")
	})
}
