package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
)

// RequireRedisEnv names the environment variable that turns a missing
// redis-server or redis-cli from a skip into a failure. CI sets it to 1.
const RequireRedisEnv = "RAPYER_REQUIRE_REDIS"

// verdict is what a real tier does about its binaries.
type verdict int

const (
	run     verdict = iota // binaries found: run the test
	skipIt                 // missing, not required: t.Skip
	failRun                // missing and required: t.Fatal
)

// decide returns what a test of kind does when looking up its binaries gave
// missing (nil when they were found), and whether RAPYER_REQUIRE_REDIS is set,
// with the message to show.
func decide(kind Kind, missing error, require bool) (verdict, string) {
	switch {
	case kind == Mini || missing == nil:
		return run, ""
	case require:
		return failRun, fmt.Sprintf("REAL REDIS TIER REQUIRED (%s=1) BUT UNAVAILABLE for %q: %v", RequireRedisEnv, kind, missing)
	default:
		return skipIt, fmt.Sprintf("REAL REDIS TIER SKIPPED for %q: %v (install redis-server and redis-cli; set %s=1 to make this a failure)", kind, missing, RequireRedisEnv)
	}
}

// requireRedis reports whether RAPYER_REQUIRE_REDIS is set to a true value
// ("1", "true", ...).
func requireRedis() bool {
	v, err := strconv.ParseBool(os.Getenv(RequireRedisEnv))
	return err == nil && v
}

// missingBinaries looks up the binaries kind needs: redis-server for a server,
// redis-server and redis-cli for a cluster.
func missingBinaries(kind Kind) error {
	switch kind {
	case Server:
		_, err := lookRedisServer()
		return err
	case Cluster:
		if _, err := lookRedisServer(); err != nil {
			return err
		}
		_, err := lookRedisCLI()
		return err
	}
	return nil
}

var (
	lookRedisServer = sync.OnceValues(func() (string, error) { return exec.LookPath("redis-server") })
	lookRedisCLI    = sync.OnceValues(func() (string, error) { return exec.LookPath("redis-cli") })
)

func redisServerPath() string { p, _ := lookRedisServer(); return p }
func redisCLIPath() string    { p, _ := lookRedisCLI(); return p }

// skipNotice prints the skip message once per binary to stderr as well, where
// it is seen even without -v when the package fails.
var skipNotice sync.Once

// requireBinaries skips or fails t when the binaries of kind are missing.
func requireBinaries(t testing.TB, kind Kind) {
	t.Helper()
	switch v, msg := decide(kind, missingBinaries(kind), requireRedis()); v {
	case skipIt:
		skipNotice.Do(func() { fmt.Fprintln(os.Stderr, "testenv: "+msg) })
		t.Skip(msg)
	case failRun:
		t.Fatal(msg)
	}
}
