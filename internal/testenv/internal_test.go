package testenv

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestDecide(t *testing.T) {
	missing := errors.New(`exec: "redis-server": executable file not found in $PATH`)
	for _, tc := range []struct {
		kind    Kind
		missing error
		require bool
		want    verdict
		say     string
	}{
		{Mini, nil, false, run, ""},
		{Mini, missing, true, run, ""}, // miniredis needs no binary
		{Server, nil, false, run, ""},
		{Server, nil, true, run, ""},
		{Cluster, nil, true, run, ""},
		{Server, missing, false, skipIt, "REAL REDIS TIER SKIPPED"},
		{Cluster, missing, false, skipIt, "REAL REDIS TIER SKIPPED"},
		{Server, missing, true, failRun, "RAPYER_REQUIRE_REDIS=1"},
		{Cluster, missing, true, failRun, "RAPYER_REQUIRE_REDIS=1"},
	} {
		t.Run(fmt.Sprintf("%s/missing=%v/require=%v", tc.kind, tc.missing != nil, tc.require), func(t *testing.T) {
			got, msg := decide(tc.kind, tc.missing, tc.require)
			if got != tc.want {
				t.Errorf("verdict %d, want %d", got, tc.want)
			}
			if !strings.Contains(msg, tc.say) || (tc.say == "") != (msg == "") {
				t.Errorf("message %q, want one containing %q", msg, tc.say)
			}
			if tc.missing != nil && tc.want != run && !strings.Contains(msg, "redis-server") {
				t.Errorf("message %q does not say what is missing", msg)
			}
		})
	}
}

func TestRequireRedisReadsTheEnvironment(t *testing.T) {
	for env, want := range map[string]bool{"": false, "0": false, "1": true, "true": true, "no": false} {
		t.Setenv(RequireRedisEnv, env)
		if got := requireRedis(); got != want {
			t.Errorf("%s=%q: requireRedis() = %v, want %v", RequireRedisEnv, env, got, want)
		}
	}
}

// recorder is a testing.TB that records what Seed does with it.
type recorder struct {
	testing.TB
	failed   bool
	fatal    string
	logs     []string
	cleanups []func()
}

func (r *recorder) Helper()          {}
func (r *recorder) Failed() bool     { return r.failed }
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recorder) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestSeed(t *testing.T) {
	t.Run("from the environment, logged on failure", func(t *testing.T) {
		t.Setenv(SeedEnv, "42")
		r := &recorder{TB: t}
		if got := Seed(r); got != 42 {
			t.Fatalf("Seed = %d, want 42 from %s", got, SeedEnv)
		}
		r.failed = true
		r.runCleanups()
		if len(r.logs) != 1 || r.logs[0] != "seed=42 (rerun with RAPYER_SEED=42)" {
			t.Fatalf("logs %q, want the seed and how to rerun", r.logs)
		}
	})
	t.Run("silent when the test passes", func(t *testing.T) {
		t.Setenv(SeedEnv, "")
		r := &recorder{TB: t}
		a, b := Seed(r), Seed(r)
		r.runCleanups()
		if len(r.logs) != 0 {
			t.Fatalf("logs %q for a passing test", r.logs)
		}
		if a == b {
			t.Fatalf("two random seeds are both %d", a)
		}
	})
	t.Run("a bad RAPYER_SEED fails", func(t *testing.T) {
		t.Setenv(SeedEnv, "x")
		r := &recorder{TB: t}
		Seed(r)
		if !strings.Contains(r.fatal, "RAPYER_SEED") {
			t.Fatalf("Fatalf %q, want a complaint about RAPYER_SEED", r.fatal)
		}
	})
}

func TestNewPrefixIsUniqueAndPrefixFree(t *testing.T) {
	seen := map[string]bool{}
	var all []string
	for range 200 {
		p := newPrefix()
		if seen[p] {
			t.Fatalf("prefix %q handed out twice", p)
		}
		seen[p] = true
		all = append(all, p)
	}
	for _, a := range all {
		for _, b := range all {
			if a != b && strings.HasPrefix(b, a) {
				t.Fatalf("prefix %q is the start of %q: their keys could collide", a, b)
			}
		}
	}
}

func TestNormalizeSlotsRejectsGaps(t *testing.T) {
	if _, err := normalizeSlots(nil, 0); err == nil {
		t.Error("an empty slot map was accepted")
	}
}
