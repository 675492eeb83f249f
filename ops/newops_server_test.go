package ops_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestNewOpsACLRefusalWritesNothing: the commands IncrItem and
// CreateIfMissing send are asked of the server's ACL before the first
// write (Redis 7): a user without one gets rapyer.ErrNoPermission naming it, and
// nothing is written.
func TestNewOpsACLRefusalWritesNothing(t *testing.T) {
	realTiers(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for _, c := range []struct {
			deny  string
			batch tx.Batch
		}{
			{"hincrby", tx.Of(ops.Append(Tags, "w"), ops.IncrItem(Hits, "a", 1))},
			{"hset", tx.Of(ops.Append(Tags, "w"), ops.IncrItem(Weights, "a", 0.5))}, // a float item is written by HSET
		} {
			admin := newMeters(t, b, 0)
			if err := admin.Save(ctx, "x", Meter{Hits: map[string]int{"a": 1}, Weights: map[string]float64{"a": 1}, Tags: []string{"t"}}); err != nil {
				t.Fatal(err)
			}
			u := aclUser(t, b, "~*", "&*", "+@all", "-"+c.deny)
			m, err := rapyer.New[Meter](u, rapyer.Options{Prefix: admin.Prefix()})
			if err != nil {
				t.Fatal(err)
			}
			before := meterKeys(t, b, admin, "x")
			_, err = m.Exec(ctx, "x", c.batch)
			if !errors.Is(err, rapyer.ErrNoPermission) || !strings.Contains(err.Error(), strings.ToUpper(c.deny)) {
				t.Fatalf("without %s: %v; want ErrNoPermission naming it", c.deny, err)
			}
			if diff := cmp.Diff(before, meterKeys(t, b, admin, "x")); diff != "" {
				t.Fatalf("a refused batch changed the model (-before +after):\n%s", diff)
			}
		}
		// creating a window with a TTL needs PEXPIRE
		admin := windows(t, b, "acl", time.Minute)
		u := aclUser(t, b, "~*", "&*", "+@all", "-pexpire")
		m, err := rapyer.New[Window](u, rapyer.Options{Prefix: admin.Prefix(), TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Exec(ctx, "x", tx.Of(ops.CreateIfMissing(Window{}), ops.Incr(WCount, 1)))
		if !errors.Is(err, rapyer.ErrNoPermission) || !strings.Contains(err.Error(), "PEXPIRE") {
			t.Fatalf("CreateIfMissing without PEXPIRE: %v; want ErrNoPermission naming it", err)
		}
		if keys := keysOfPrefix(t, b, admin.Prefix()); len(keys) != 0 {
			t.Fatalf("a refused batch created %v", keys)
		}
	})
}
