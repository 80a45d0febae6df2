package app

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"hazardwatch/store/redistest"
)

// The shipped alert rules (deploy/prometheus) are valid, fire on the series they are meant for
// and stay quiet on a healthy set (promtool check/test rules), and every metric they name is one
// the app really exports at /metrics.
func TestAlertRules(t *testing.T) {
	dir := filepath.Join(redistest.Root(), "deploy", "prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command("promtool", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %v (make deps installs Debian's prometheus package): %v\n%s", args, err, out)
		}
	}
	rules, err := os.ReadFile(filepath.Join(dir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t, redistest.Options{ConfigFile: primaryConf()})
	_, base, _ := appWith(t, map[string]string{"REDIS_URL": srv.URL()})
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllSubmatch(body, -1) {
		exported[string(m[1])] = true
	}
	var names [][]byte
	for _, expr := range regexp.MustCompile(`(?m)^\s*expr:(.*)$`).FindAllSubmatch(rules, -1) {
		names = append(names, regexp.MustCompile(`hazardwatch_[a-z_]+`).FindAll(expr[1], -1)...)
	}
	if len(names) < 10 {
		t.Fatalf("only %d metric names in the rules", len(names))
	}
	for _, n := range names {
		if !exported[string(n)] {
			t.Errorf("the rules name %s, which /metrics does not export", n)
		}
	}
}
