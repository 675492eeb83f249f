package rapyertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/random"
	"github.com/rapyer-go/rapyer/rapyer"
)

// URLEnv names the environment variable that points the tests at a real
// server: a redis:// or rediss:// URL as redis.ParseURL reads it.
const URLEnv = "REDIS_URL"

// cleanupTimeout bounds the deletion of a test's keys on a shared server.
const cleanupTimeout = 30 * time.Second

// Client returns the Redis client of test t: on a fresh embedded miniredis, or
// on the server of REDIS_URL when it is set. Every call for the same t returns
// the same client. It is closed when t ends; on REDIS_URL the keys starting
// with Prefix(t) are deleted first.
func Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	return of(t).client(t)
}

// Prefix returns the key prefix of test t: made of [a-z0-9_], ending in "_",
// built from the test's name and a random part, so that it is unique among
// the tests of every process that shares a server. Every call for the same t
// returns the same prefix.
func Prefix(t testing.TB) string {
	t.Helper()
	return of(t).prefix
}

// Model returns a model of T on Client(t) whose keys start with Prefix(t):
// the prefix of opts (or, when it is empty, the default, the type's name in
// snake case) is put after the test's. A type or options that rapyer.New
// refuses fail t.
func Model[T any](t testing.TB, opts rapyer.Options) *rapyer.Model[T] {
	t.Helper()
	rdb := Client(t)
	base := opts.Prefix
	if base == "" {
		m, err := rapyer.New[T](rdb, opts)
		if err != nil {
			t.Fatalf("rapyertest: %v", err)
		}
		base = m.Prefix()
	}
	opts.Prefix = Prefix(t) + base
	m, err := rapyer.New[T](rdb, opts)
	if err != nil {
		t.Fatalf("rapyertest: %v", err)
	}
	return m
}

// Miniredis returns the embedded server of test t, to move its clock
// (FastForward), inspect or corrupt its data, or close it to simulate an
// outage; or nil when the test runs on REDIS_URL.
func Miniredis(t testing.TB) *miniredis.Miniredis {
	t.Helper()
	s := of(t)
	s.client(t)
	return s.mini
}

// state is what one test has: its prefix, and once asked for, its client and
// embedded server.
type state struct {
	prefix string

	mu   sync.Mutex
	rdb  redis.UniversalClient
	mini *miniredis.Miniredis
}

var (
	statesMu sync.Mutex
	states   = map[testing.TB]*state{}

	// run tells apart the processes that share a server; seq the tests of one.
	run = random.Hex(3)
	seq atomic.Uint64
)

func of(t testing.TB) *state {
	statesMu.Lock()
	defer statesMu.Unlock()
	if s, ok := states[t]; ok {
		return s
	}
	s := &state{prefix: newPrefix(t.Name())}
	states[t] = s
	t.Cleanup(func() {
		statesMu.Lock()
		delete(states, t)
		statesMu.Unlock()
	})
	return s
}

func (s *state) client(t testing.TB) redis.UniversalClient {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rdb != nil {
		return s.rdb
	}
	if raw := os.Getenv(URLEnv); raw != "" {
		s.rdb = shared(t, raw, s.prefix)
		return s.rdb
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		t.Fatalf("rapyertest: start miniredis: %v", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() {
		_ = rdb.Close()
		mr.Close()
	})
	s.rdb, s.mini = rdb, mr
	return rdb
}

// shared connects to the server of REDIS_URL and arranges for the test's keys
// to be deleted when it ends.
func shared(t testing.TB, raw, prefix string) redis.UniversalClient {
	t.Helper()
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("rapyertest: %s=%s: %v", URLEnv, redact(raw), err)
	}
	rdb := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		t.Fatalf("rapyertest: the server of %s=%s does not answer: %v", URLEnv, redact(raw), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := DeletePrefix(ctx, rdb, prefix); err != nil {
			t.Errorf("rapyertest: delete the keys of %s on %s: %v", t.Name(), redact(raw), err)
		}
		_ = rdb.Close()
	})
	return rdb
}

// DeletePrefix deletes every key that starts with prefix, found with SCAN (on
// every master of a cluster), never with KEYS or FLUSHDB. The prefix must
// hold no glob characters (*?[]\). Client's cleanup calls it with Prefix(t).
func DeletePrefix(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	if err := errs.NilContext(ctx, "DeletePrefix"); err != nil {
		return err
	}
	if prefix == "" || strings.ContainsAny(prefix, `*?[]\`) {
		return fmt.Errorf("%w: DeletePrefix(%q): an empty prefix, or one with glob characters", rapyer.ErrInvalid, prefix)
	}
	if errs.NilClient(rdb) {
		return fmt.Errorf("%w: DeletePrefix(%q): nil client", rapyer.ErrInvalid, prefix)
	}
	del := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var batch []string
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			// One key a command: keys of one batch may live in different
			// cluster slots.
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range batch {
					p.Del(ctx, k)
				}
				return nil
			})
			batch = batch[:0]
			return err
		}
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 500 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return flush()
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return del(ctx, c) })
	}
	return del(ctx, rdb)
}

// newPrefix makes a prefix from a test name: "rt_", up to 32 characters of
// the name in [a-z0-9_], the process's random part and a sequence number:
// "rt_testwithdraw_3fa85c_1_".
func newPrefix(name string) string {
	var b strings.Builder
	b.WriteString("rt_")
	n := 0
	lastUnderscore := true
	for _, r := range strings.ToLower(name) {
		if n == 32 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			lastUnderscore = false
			n++
		case !lastUnderscore:
			b.WriteByte('_')
			lastUnderscore = true
			n++
		}
	}
	if !lastUnderscore {
		b.WriteByte('_')
	}
	b.WriteString(run)
	b.WriteByte('_')
	b.WriteString(strconv.FormatUint(seq.Add(1), 36))
	b.WriteByte('_')
	return b.String()
}

// redact hides the password of a URL in messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
