package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// purgeKeys are the real keys of a purge; purgeArgs adds thousands of keys
// that are never there, so that the argument list is longer than Lua can
// unpack in one call (about 8000): the write phase must split it.
var (
	purgeKeys = []string{"k0", "k1", "k2"}
	purgeArgs = func() []string {
		out := slices.Clone(purgeKeys)
		for i := range 9000 {
			out = append(out, fmt.Sprintf("never-%d", i))
		}
		return out
	}()
)

// TestReliabilityWritePhaseFaults is the linearizability run with faults
// aimed at the write phase of batches instead of the network: an ACL that
// denies, for a while, one write command some batches need (HDEL, LPOP or
// HSET; real servers only, miniredis has no ACL), a version field swapped
// for text that is not a number and back, and in every run batches that
// delete thousands of map keys at once. Every batch must be applied whole
// or not at all (the ledger checks the counter against the tokens), every
// failure must be a typed error of the library, none may say
// rapyer.ErrPartlyApplied, and the histories must be linearizable.
func TestReliabilityWritePhaseFaults(t *testing.T) {
	for _, kind := range testenv.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			linearizable(t, testenv.On(t, kind), clientConfig{name: "write-phase faults", writePhase: true})
		})
	}
}

// writePhase injects the write-phase faults of one run.
type writePhase struct {
	b      *testenv.Backend
	direct *rapyer.Model[Acct]
	ids    []string
	user   string // the workers' ACL user; "" on miniredis
	client redis.UniversalClient
}

// deniable are the write commands an ACL fault takes away for a while:
// take and purge need HDEL, pop LPOP, put HSET (on the map's key).
var deniable = []string{"hdel", "lpop", "hset"}

func newWritePhase(t *testing.T, b *testenv.Backend, direct *rapyer.Model[Acct], ids []string) *writePhase {
	w := &writePhase{b: b, direct: direct, ids: ids, client: b.Client}
	if b.Kind == testenv.Mini {
		return w
	}
	w.user = "wp_" + b.Prefix
	if err := w.acl(context.Background(), "on", ">pw", "~*", "&*", "+@all"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.eachNode(context.Background(), "ACL", "DELUSER", w.user) })
	w.client = b.NewClient(t, func(o *redis.UniversalOptions) {
		o.Username, o.Password = w.user, "pw"
	})
	return w
}

func (w *writePhase) kinds() []string {
	if w.user == "" {
		return []string{"corrupt-version"}
	}
	return []string{"corrupt-version", "acl-deny", "acl-deny"}
}

func (w *writePhase) enough(counts map[string]int64) bool {
	if counts["corrupt-version"] < 5 {
		return false
	}
	return w.user == "" || counts["acl-deny"] >= 5
}

// eachNode sends one command to the server, or to every master of the
// cluster (ACL rules are kept per node).
func (w *writePhase) eachNode(ctx context.Context, args ...any) error {
	if c, ok := w.b.Client.(*redis.ClusterClient); ok {
		return c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
			return n.Do(ctx, args...).Err()
		})
	}
	return w.b.Client.Do(ctx, args...).Err()
}

func (w *writePhase) acl(ctx context.Context, rules ...string) error {
	args := []any{"ACL", "SETUSER", w.user}
	for _, r := range rules {
		args = append(args, r)
	}
	return w.eachNode(ctx, args...)
}

var swapVersion = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], '__v')
if v and v ~= ARGV[1] then
  redis.call('HSET', KEYS[1], '__v', ARGV[1])
  return v
end
return false
`)

var restoreVersion = redis.NewScript(`
if redis.call('HGET', KEYS[1], '__v') == ARGV[1] then
  redis.call('HSET', KEYS[1], '__v', ARGV[2])
  return 1
end
return 0
`)

// inject makes one fault happen for a short while and undoes it; it
// reports whether the fault took place.
func (w *writePhase) inject(ctx context.Context, kind string, r *rand.Rand) bool {
	bg := context.Background()
	hold := time.Duration(5+r.IntN(25)) * time.Millisecond
	switch kind {
	case "acl-deny":
		cmd := deniable[r.IntN(len(deniable))]
		if err := w.acl(bg, "-"+cmd); err != nil {
			return false
		}
		pause(ctx, hold)
		// Undo even when the run is over: the ledger reads afterwards.
		return w.acl(bg, "+"+cmd) == nil
	case "corrupt-version":
		root, err := w.direct.Key(w.ids[r.IntN(len(w.ids))])
		if err != nil {
			return false
		}
		bad := []string{"abc", "", " 7", "9223372036854775807"}[r.IntN(4)]
		was, err := swapVersion.Run(bg, w.b.Client, []string{root}, bad).Text()
		if err != nil {
			return false // nil reply: already corrupt
		}
		pause(ctx, hold)
		return restoreVersion.Run(bg, w.b.Client, []string{root}, bad, was).Err() == nil
	}
	return false
}

// stop restores every permission, so that the ledger's reads go through.
func (w *writePhase) stop(t *testing.T) {
	if w.user == "" {
		return
	}
	if err := w.acl(context.Background(), "+@all"); err != nil {
		t.Fatal(err)
	}
}

// typedErrors are the sentinels every failure of the library must wrap.
var typedErrors = []error{
	rapyer.ErrNotFound, rapyer.ErrExists, rapyer.ErrPrecondition, rapyer.ErrConflict,
	rapyer.ErrCrossSlot, rapyer.ErrUnknownOutcome, rapyer.ErrWrongType, rapyer.ErrCorrupt,
	rapyer.ErrInvalidID, rapyer.ErrUnsupported, rapyer.ErrInvalid, rapyer.ErrOverflow,
	rapyer.ErrLockLost, rapyer.ErrNoPermission, rapyer.ErrTooLarge, rapyer.ErrRefused,
	rapyer.ErrNotSent, rapyer.ErrPartlyApplied,
	context.Canceled, context.DeadlineExceeded,
}

// checkTyped fails the test for any batch that reported a partly applied
// batch or an error that wraps none of the library's sentinels, and counts
// both for the summary.
func (l *ledger) checkTyped(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for tok, e := range l.entries {
		if e.err == nil {
			continue
		}
		switch {
		case errors.Is(e.err, rapyer.ErrPartlyApplied):
			figures.partial.Add(1)
			t.Errorf("batch %s was partly applied: %v", tok, e.err)
		case !slices.ContainsFunc(typedErrors, func(s error) bool { return errors.Is(e.err, s) }):
			figures.untyped.Add(1)
			t.Errorf("batch %s failed with an untyped error: %v", tok, e.err)
		}
	}
}
