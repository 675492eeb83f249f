// Package testenv is the test harness shared by every package of rapyer that
// talks to Redis. One behaviour test runs on three backends:
//
//   - [Mini]: an embedded miniredis, fresh for every subtest, always there;
//   - [Server]: a real redis-server that the harness starts on a free port;
//   - [Cluster]: a real Redis Cluster of three masters that the harness builds
//     with redis-cli --cluster create.
//
// # Wiring a package
//
// Every package with Redis tests hands its TestMain to [Main]:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Main runs the tests, stops every redis-server the package started (the
// processes also die with the test binary should it crash, through the Linux
// parent-death signal), and then fails the run if goroutines are left behind
// (go.uber.org/goleak).
//
// # Writing a test
//
// [Each] runs a function once per backend, as subtests named "miniredis",
// "redis" and "cluster":
//
//	func TestIncr(t *testing.T) {
//		testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
//			key := b.Prefix + "{c}n"
//			if err := b.Client.Incr(t.Context(), key).Err(); err != nil {
//				t.Fatal(err)
//			}
//		})
//	}
//
// A [Backend] carries a fresh client (closed when the subtest ends) and a
// Prefix unique to the subtest, made of [a-z0-9_] and ending in "_". The real
// server and the real cluster are shared by all tests of a test binary, so
// every key a test writes must start with its Prefix. [On] prepares a single
// backend when a test needs only one.
//
// The real server and the cluster are started lazily, the first time a test
// asks for them, and only once per test binary. If redis-server or redis-cli
// cannot be found, the real tiers are skipped with a message that starts with
// "REAL REDIS TIER SKIPPED"; with RAPYER_REQUIRE_REDIS=1 in the environment
// (CI sets it) a missing binary fails the test instead.
//
// # Which tiers ran
//
// When RAPYER_TIER_DIR names a directory ([TierDirEnv]; make test sets it),
// Main writes there, after the tests, a record of this test binary: how many
// (sub)tests that asked [On] or [Each] for a backend ran on it, failed, or
// were skipped (for want of redis-server or redis-cli, or by the test), the
// version of redis-server and how many private servers and clusters were
// started. [SummarizeTiers] (go run ./internal/testenv/cmd/tiers DIR) turns
// the records of every package into one "TIER" line per backend.
//
// # Fault tests
//
// Tests that kill, restart or fail over a server get private processes:
// [StartServer] starts a redis-server of their own and [StartCluster] a
// cluster of their own, with or without replicas. [ServerProc.Kill] sends SIGKILL,
// [ServerProc.Restart] starts the process again on the same port and directory.
// Private processes stop when the test ends. To cut connections, delay traffic
// or drop a reply, put the proxy of package internal/faultproxy between the
// client and the server.
//
// # ACL users
//
// [Backend.NewUser] makes an ACL user on the backend, every master and
// replica of a cluster included, with exactly the rules given (after
// "reset"), and returns a client logged in as it; the user is deleted when
// the test ends. On miniredis, which has no ACL, it skips the test:
//
//	app := b.NewUser(t, "~"+b.Prefix+"*", "+get", "+set", "+cluster|slots", "+command")
//
// [ACLUser] does the same from any admin client (a private [StartServer] or
// [StartCluster]) and also returns the user's name and password, for tests
// that build clients of their own. A go-redis cluster client needs
// "+cluster|slots" and "+command" for its own look-ups.
//
// # Round trips
//
// [CountRoundTrips] installs a go-redis hook that counts round trips: one per
// command, one per pipeline or transaction. On a cluster client it counts per
// node, so a redirect or a pipeline split over three nodes shows up as the
// round trips it costs. [Counter.Commands] lists the command names sent, which
// makes a failure message say what was sent instead of only how many.
//
// # Randomized tests
//
// [Seed] returns the seed for a randomized test: RAPYER_SEED when set, a random
// one otherwise. When the test fails it logs the seed and how to rerun with it.
package testenv
