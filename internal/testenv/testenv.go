package testenv

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// Kind names a backend.
type Kind string

// The backends, named as the subtests of [Each] are.
const (
	Mini    Kind = "miniredis" // embedded github.com/alicebob/miniredis/v2, always available
	Server  Kind = "redis"     // a real redis-server the harness starts on a free port
	Cluster Kind = "cluster"   // a real three-master Redis Cluster built with redis-cli --cluster create
)

// Kinds returns every backend, in the order [Each] runs them.
func Kinds() []Kind { return []Kind{Mini, Server, Cluster} }

// Backend is one backend prepared for one (sub)test.
type Backend struct {
	// Kind says which backend this is.
	Kind Kind
	// Client is a fresh client for this subtest, closed when it ends:
	// a *redis.Client for Mini and Server, a *redis.ClusterClient for Cluster.
	Client redis.UniversalClient
	// Prefix is unique per subtest, short, made of [a-z0-9_] and ending in
	// "_". Start every key with it: the real server and cluster are shared.
	Prefix string
	// Mini is the embedded server, for Mini only (fresh for every subtest).
	Mini *miniredis.Miniredis
	// Addrs holds the "host:port" of the server, or of every cluster master.
	Addrs []string
}

// NewClient returns another client to the same backend, closed when t ends.
// tweak, if not nil, may change the options first (MaxRetries, PoolSize,
// Addrs to point at a proxy, ...). It builds a *redis.Client for Mini and
// Server, from the first of Addrs, and a *redis.ClusterClient for Cluster.
// A cluster client learns the node addresses from CLUSTER SLOTS, so Addrs only
// changes its seeds; to route every node through a proxy, set Dialer.
func (b *Backend) NewClient(t testing.TB, tweak func(*redis.UniversalOptions)) redis.UniversalClient {
	t.Helper()
	opts := &redis.UniversalOptions{Addrs: append([]string(nil), b.Addrs...)}
	if tweak != nil {
		tweak(opts)
	}
	var c redis.UniversalClient
	if b.Kind == Cluster {
		c = redis.NewClusterClient(opts.Cluster())
	} else {
		c = redis.NewClient(opts.Simple())
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Each runs f once per backend, as subtests named "miniredis", "redis" and
// "cluster", each with its own [Backend]. The real server and cluster are
// started the first time they are needed and shared by every test of the
// binary. Where redis-server or redis-cli is missing the real subtests are
// skipped with a message starting "REAL REDIS TIER SKIPPED", or fail when
// RAPYER_REQUIRE_REDIS=1.
func Each(t *testing.T, f func(t *testing.T, b *Backend)) {
	t.Helper()
	for _, k := range Kinds() {
		t.Run(string(k), func(t *testing.T) {
			f(t, On(t, k))
		})
	}
}

// On prepares one backend for t, with the skip and failure rules of [Each].
func On(t *testing.T, kind Kind) *Backend {
	t.Helper()
	b := &Backend{Kind: kind, Prefix: newPrefix()}
	countTier(t, kind)
	if v, msg := decide(kind, missingBinaries(kind), requireRedis()); v == skipIt {
		noteMissing(kind, msg)
	}
	switch kind {
	case Mini:
		b.Mini = miniredis.RunT(t)
		b.Addrs = []string{b.Mini.Addr()}
	case Server:
		requireBinaries(t, Server)
		s, err := sharedServer()
		if err != nil {
			t.Fatalf("testenv: shared redis-server: %v", err)
		}
		b.Addrs = []string{s.Addr()}
		noteShared(Server, b.Addrs)
	case Cluster:
		requireBinaries(t, Cluster)
		c, took, err := sharedCluster()
		if err != nil {
			t.Fatalf("testenv: shared cluster: %v", err)
		}
		if clusterLogged.CompareAndSwap(false, true) {
			t.Logf("testenv: shared cluster %v started in %v", c.masters, took.Round(time.Millisecond))
		}
		b.Addrs = c.Addrs()
		noteShared(Cluster, b.Addrs)
	default:
		t.Fatalf("testenv: unknown backend kind %q", kind)
	}
	b.Client = b.NewClient(t, nil)
	return b
}

// The shared server and cluster, started at most once per test binary.
var (
	sharedServer = sync.OnceValues(func() (*ServerProc, error) {
		dir, err := sharedTempDir("rapyer-redis-")
		if err != nil {
			return nil, err
		}
		return launch(dir, nil)
	})
	sharedClusterOnce = sync.OnceValues(func() (startedCluster, error) {
		begin := time.Now()
		dir, err := sharedTempDir("rapyer-cluster-")
		if err != nil {
			return startedCluster{}, err
		}
		c, err := buildCluster(dir, ClusterOptions{})
		// On error stopAll kills the nodes that were started.
		return startedCluster{c, time.Since(begin)}, err
	})
	clusterLogged atomic.Bool
)

type startedCluster struct {
	c    *ClusterProc
	took time.Duration
}

func sharedCluster() (*ClusterProc, time.Duration, error) {
	s, err := sharedClusterOnce()
	return s.c, s.took, err
}

// Prefixes: "t" + a random tag of this process + "_" + a sequence + "_".
// The sequence makes them unique in the binary; the tag keeps two binaries
// apart should they ever share a server. The trailing "_" keeps one prefix
// from being the start of another ("t_x_1_" and "t_x_12_").
var (
	prefixTag = strconv.FormatUint(rand.Uint64()%(36*36*36*36), 36)
	prefixSeq atomic.Uint64
)

func newPrefix() string {
	return "t" + prefixTag + "_" + strconv.FormatUint(prefixSeq.Add(1), 10) + "_"
}

// Main is the body of TestMain in every package with Redis tests:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// It runs the tests, writes the tier record when RAPYER_TIER_DIR asks for it
// ([TierDirEnv]), stops every server process the package started (also
// when a test fails, and, through the parent-death signal, when the binary
// crashes), then checks for leaked goroutines with go.uber.org/goleak, which
// fails a passing run, and exits with the resulting code.
func Main(m *testing.M) {
	os.Exit(mainCode(m))
}

func mainCode(m *testing.M) (code int) {
	defer func() {
		// Also on a panic in m.Run's own goroutine; the panic goes on.
		if err := stopAll(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stopping servers: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}()
	code = m.Run()
	writeTierRecord()
	if err := stopAll(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: stopping servers: %v\n", err)
		code = 1
	}
	if code == 0 {
		if err := findLeaks(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: goroutines leaked by a passing run:\n%v\n", err)
			code = 1
		}
	}
	return code
}

// leakGrace is how long Main gives goroutines to wind down before it calls
// them leaked. Some end a little after the Close that ends them: go-redis's
// dial prober, started after PoolSize failed dials, sleeps a second between
// probes before it sees its pool closed. goleak alone waits about half a
// second.
const leakGrace = 5 * time.Second

// findLeaks runs goleak.Find until it finds nothing or leakGrace has passed.
func findLeaks() error {
	deadline := time.Now().Add(leakGrace)
	for {
		err := goleak.Find()
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}

// Eventually polls cond every few milliseconds until it holds, and fails t
// if it still does not after a minute: the one way the tests wait for a
// condition, with a deadline generous enough for two loaded cores under
// -race. Tests never assert on wall time; this bounds a wait, nothing more.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
