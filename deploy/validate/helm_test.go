package validate

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// helmBin is the helm binary: $HELM, else helm on PATH. Without one the
// chart tests skip, unless PAYCODE_TEST_REQUIRE_HELM is set (CI).
func helmBin(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	if h, err := exec.LookPath("helm"); err == nil {
		return h
	}
	if os.Getenv("PAYCODE_TEST_REQUIRE_HELM") != "" {
		t.Fatal("helm not found (set HELM or PATH)")
	}
	t.Skip("helm not found")
	return ""
}

func helmTemplate(t *testing.T, args ...string) ([]map[string]any, error) {
	t.Helper()
	cmd := exec.Command(helmBin(t), append([]string{"template", "rel", filepath.Join("..", "helm", "paycode")}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, errors.New(errOut.String())
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(&out)
	for {
		var d map[string]any
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("helm template printed invalid YAML: %v", err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	return docs, nil
}

func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			s, _ := v.([]any)
			if k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

func byKind(docs []map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, d := range docs {
		if d["kind"] == kind {
			out = append(out, d)
		}
	}
	return out
}

// The chart renders what a payment service needs in Kubernetes: probes on
// the admin listener (/healthz liveness, /readyz readiness), the admin
// Service internal (ClusterIP), a PodDisruptionBudget, configuration in a
// ConfigMap and secrets in a Secret, a ServiceMonitor only when asked; and
// it refuses to render without what production requires.
func TestHelmChart(t *testing.T) {
	ci := filepath.Join("..", "helm", "paycode", "ci-values.yaml")
	docs, err := helmTemplate(t, "-f", ci)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	deps := byKind(docs, "Deployment")
	if len(deps) != 1 {
		t.Fatalf("%d Deployments; want 1", len(deps))
	}
	c := dig(deps[0], "spec", "template", "spec", "containers", 0)
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"} {
		if got := dig(c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path = %v; want %s", probe, got, path)
		}
		if got := dig(c, probe, "httpGet", "port"); got != "admin" {
			t.Errorf("%s port = %v; want the admin port", probe, got)
		}
	}
	if got := dig(c, "ports", 1, "containerPort"); got != 9090 {
		t.Errorf("admin containerPort = %v; want 9090", got)
	}
	var admin map[string]any
	for _, s := range byKind(docs, "Service") {
		if dig(s, "metadata", "name") == "rel-paycode-admin" {
			admin = s
		}
	}
	if admin == nil || dig(admin, "spec", "type") != "ClusterIP" {
		t.Errorf("admin Service = %v; want ClusterIP", admin)
	}
	if len(byKind(docs, "PodDisruptionBudget")) != 1 || len(byKind(docs, "ServiceMonitor")) != 1 {
		t.Error("want one PodDisruptionBudget and one ServiceMonitor (enabled in ci-values)")
	}
	cms := byKind(docs, "ConfigMap")
	if len(cms) != 1 || dig(cms[0], "data", "PAYCODE_ADMIN_ADDR") != "0.0.0.0:9090" || dig(cms[0], "data", "PAYCODE_ENV") != "production" {
		t.Errorf("ConfigMap = %v", cms)
	}
	if len(byKind(docs, "Secret")) != 1 {
		t.Error("no Secret rendered from the secret values")
	}

	// An existing Secret instead of values; no ServiceMonitor by default.
	docs, err = helmTemplate(t, "-f", ci, "--set", "secrets.existingSecret=prod-paycode,serviceMonitor.enabled=false")
	if err != nil {
		t.Fatal(err)
	}
	if len(byKind(docs, "Secret")) != 0 || len(byKind(docs, "ServiceMonitor")) != 0 {
		t.Error("existingSecret still rendered a Secret, or a ServiceMonitor appeared while disabled")
	}
	// Without the production settings the chart does not render.
	if _, err := helmTemplate(t); err == nil {
		t.Error("the chart rendered without a public URL, Redis, webhook or secrets")
	}
}
