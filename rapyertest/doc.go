// Package rapyertest gives the tests of code that uses rapyer-go a Redis of
// their own.
//
//	func TestWithdraw(t *testing.T) {
//		accounts := rapyertest.Model[Account](t, rapyer.Options{})
//		_ = accounts.Save(t.Context(), "alice", Account{Balance: 100})
//		if err := Withdraw(t.Context(), accounts, "alice", 30); err != nil {
//			t.Fatal(err)
//		}
//		// ...
//	}
//
// # Where the data lives
//
// By default every test gets a fresh embedded server (miniredis, in the test's
// own process): no set-up, nothing left behind, fast enough to give each test
// its own. When the environment variable REDIS_URL is set
// ("redis://localhost:6379/0", "rediss://user:pass@host:6380/2"), the tests run
// on that server instead, so the same suite can check the behaviour on a real
// Redis or Valkey before a release. A REDIS_URL that does not parse or whose
// server does not answer fails the test; it is never skipped.
//
// On a shared server every test writes under a key prefix of its own, Prefix,
// and when the test ends its cleanup deletes the keys that start with that
// prefix (SCAN and DEL, never KEYS). It never flushes a database: keys of
// other programs, and of other tests running at the same time, are left alone.
// Model puts the prefix in front of the model's own; keys a test writes by hand
// should start with Prefix(t) too, or they outlive the test. Batch records
// (tx{<slot tag>}:<id>, see package tx) are kept outside every prefix, so that
// SCAN over a prefix never walks them; they are not deleted with the test's
// keys and expire on their own (tx.DefaultRecord, 10s).
//
// # One test, one backend
//
// Client, Prefix, Model and Miniredis called for the same test (the same
// testing.TB) share one client, one prefix and, without REDIS_URL, one embedded
// server; a subtest gets its own. The client is closed and the embedded server
// stopped when the test ends, so no goroutine outlives the test.
//
// # miniredis is not Redis
//
// The embedded server runs the same Lua scripts and commands as Redis for
// everything rapyer-go does, but time does not pass on it by itself: keys
// with a TTL expire only when the test moves its clock with
// Miniredis(t).FastForward. Tests of expiry therefore call FastForward, and
// skip or sleep when Miniredis returns nil (on REDIS_URL). docs/testing.md in
// the repository lists the other differences.
package rapyertest
