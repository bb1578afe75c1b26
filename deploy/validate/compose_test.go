// Package validate checks deploy/compose.yaml with the Compose
// Specification's own loader, github.com/compose-spec/compose-go/v2: the
// code `docker compose config` runs (schema validation, interpolation,
// merge of the x-paycode anchor, normalisation, consistency of references
// between services, volumes and configs). It is its own Go module so the
// server's module does not carry the loader's dependencies; CI runs it with
// `cd deploy/validate && go test ./...`.
package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

func loadCompose(t *testing.T, env []string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join("..", "compose.yaml")},
		cli.WithWorkingDirectory(".."), cli.WithEnv(env), cli.WithResolvedPaths(true), cli.WithConsistency(true))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// The compose file loads as `docker compose config` loads it, and holds
// what the deployment promises: two paycode replicas built from the
// repository's Dockerfile, Redis with a replica and Sentinels, Prometheus
// with the alert rules, Grafana provisioned with the dashboard; every file
// it mounts exists; the admin listener is never published.
func TestComposeFile(t *testing.T) {
	p, err := loadCompose(t, nil)
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	for _, name := range []string{"paycode-1", "paycode-2", "redis", "redis-replica", "sentinel", "prometheus", "grafana"} {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("service %s: %v", name, err)
		}
	}
	for _, name := range []string{"paycode-1", "paycode-2"} {
		s, err := p.GetService(name)
		if err != nil {
			continue
		}
		if s.Build == nil {
			t.Errorf("%s is not built from the repository", name)
		} else if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("%s: Dockerfile: %v", name, err)
		}
		for _, port := range s.Ports {
			if port.Target == 9090 {
				t.Errorf("%s publishes the admin listener (9090): it is internal only", name)
			}
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %d on %q; want 127.0.0.1 (a dev-mode stack)", name, port.Target, port.HostIP)
			}
		}
		env := s.Environment
		if v := env["PAYCODE_REDIS_SENTINEL_MASTER"]; v == nil || *v != "paycode" {
			t.Errorf("%s does not use the Sentinel master paycode", name)
		}
		if v := env["PAYCODE_ADMIN_TOKEN"]; v == nil || len(*v) < 32 {
			t.Errorf("%s: PAYCODE_ADMIN_TOKEN interpolates to a token under 32 characters", name)
		}
	}
	if s, err := p.GetService("redis-replica"); err == nil && !strings.Contains(strings.Join(s.Command, " "), "--replicaof redis 6379") {
		t.Errorf("redis-replica does not replicate redis: %v", s.Command)
	}
	// Every bind mount exists where the loader resolved it.
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s: %v", s.Name, v.Source, err)
			}
		}
	}
	// The Sentinel configuration watches the master service under the name
	// paycode uses.
	if c, ok := p.Configs["sentinel"]; !ok || !strings.Contains(c.Content, "sentinel monitor paycode redis 6379 2") {
		t.Errorf("sentinel config = %+v", p.Configs["sentinel"])
	}
	// Another admin token comes through interpolation, as docker compose
	// would take it from the environment.
	tok := "from-the-environment-0123456789abcdefghij"
	p2, err := loadCompose(t, []string{"PAYCODE_ADMIN_TOKEN=" + tok})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := p2.GetService("paycode-2"); err != nil || s.Environment["PAYCODE_ADMIN_TOKEN"] == nil || *s.Environment["PAYCODE_ADMIN_TOKEN"] != tok {
		t.Errorf("PAYCODE_ADMIN_TOKEN from the environment was not used")
	}
}

// A broken file is refused by the same loader (so the test above can fail):
// an unknown service key, and a dependency on a missing service.
func TestComposeLoaderRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"unknown key":     "services:\n  a:\n    image: x\n    imagee: y\n",
		"missing depends": "services:\n  a:\n    image: x\n    depends_on: [b]\n",
	} {
		dir := t.TempDir()
		f := filepath.Join(dir, "compose.yaml")
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		opts, err := cli.NewProjectOptions([]string{f}, cli.WithWorkingDirectory(dir), cli.WithName("x"), cli.WithConsistency(true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := opts.LoadProject(context.Background()); err == nil {
			t.Errorf("%s: the loader accepted a broken file", name)
		}
	}
}

// Prometheus scrapes both replicas' admin listeners under the job name the
// alert rules use, and loads the rules file compose mounts.
func TestPrometheusConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.RuleFiles) != 1 || cfg.RuleFiles[0] != "alerts.yml" {
		t.Errorf("rule_files = %v; want [alerts.yml]", cfg.RuleFiles)
	}
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName == "paycode" {
			for _, s := range sc.StaticConfigs {
				targets = append(targets, s.Targets...)
			}
		}
	}
	if strings.Join(targets, ",") != "paycode-1:9090,paycode-2:9090" {
		t.Errorf("job paycode targets = %v; want both replicas' admin listeners", targets)
	}
}
