package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Gauge is a model without collections: its Save and its Lock's save go
// by the direct paths, its small batches by compiled shapes.
type Gauge struct {
	Name string
	N    int
	Note string
}

var (
	gaugeName = lens.Of(func(g *Gauge) *string { return &g.Name })
	gaugeN    = lens.Of(func(g *Gauge) *int { return &g.N })
)

// slotDump is every key of a model's slot (its root, its lock keys, its
// records) with its type and content, in one text.
func slotDump(ctx context.Context, t *testing.T, b *testenv.Backend, tag string) string {
	t.Helper()
	return dumpMatching(ctx, t, b, "*{"+tag+"}*", true)
}

// dumpMatching is every key matching pat with its type and content, in one
// text; with locksByName, a lock key (not a fence) by its name alone.
func dumpMatching(ctx context.Context, t *testing.T, b *testenv.Backend, pat string, locksByName bool) string {
	t.Helper()
	ks := scanSlotKeys(ctx, t, b, pat)
	sort.Strings(ks)
	var sb strings.Builder
	for _, k := range ks {
		if locksByName && strings.Contains(k, ":lock:") && !strings.Contains(k, ":fence") {
			// a lock held (by the call) is not part of the state; one
			// left behind is
			fmt.Fprintf(&sb, "lock %s\n", k)
			continue
		}
		typ := b.Client.Type(ctx, k).Val()
		fmt.Fprintf(&sb, "%s %s ", k, typ)
		switch typ {
		case "hash":
			h := b.Client.HGetAll(ctx, k).Val()
			var fs []string
			for f, v := range h {
				fs = append(fs, f+"="+v)
			}
			sort.Strings(fs)
			sb.WriteString(strings.Join(fs, ","))
		case "string":
			sb.WriteString(b.Client.Get(ctx, k).Val())
		case "list":
			sb.WriteString(strings.Join(b.Client.LRange(ctx, k, 0, -1).Val(), ","))
		case "set":
			ms := b.Client.SMembers(ctx, k).Val()
			sort.Strings(ms)
			sb.WriteString(strings.Join(ms, ","))
		case "zset":
			sb.WriteString(strings.Join(b.Client.ZRange(ctx, k, 0, -1).Val(), ","))
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// scanSlotKeys lists the keys matching pat, on every master of a cluster.
func scanSlotKeys(ctx context.Context, t *testing.T, b *testenv.Backend, pat string) []string {
	t.Helper()
	var mu sync.Mutex
	var out []string
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, pat, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			out = append(out, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	switch c := b.Client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		t.Fatalf("a client of type %T", b.Client)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// typedStateErr reports whether err wraps one of the library's sentinels of a
// batch refused on the stored data.
func typedStateErr(err error) bool {
	for _, k := range []error{rapyer.ErrWrongType, rapyer.ErrNotFound, rapyer.ErrCorrupt, rapyer.ErrOverflow, rapyer.ErrLockLost, rapyer.ErrNotHeld} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// TestCompiledPathsCheckTheStoredStateEveryCall: once a model's Save, Lock
// save and batches have compiled shapes (and direct paths), a call whose
// model was changed by hand since (its root made a list, a set, a string,
// a sorted set; its version removed or made garbage; the lock key made a
// hash while held) fails with a typed error, writes nothing, leaves no
// record and no lock held, and panics nowhere; on every tier.
func TestCompiledPathsCheckTheStoredStateEveryCall(t *testing.T) {
	corrupt := []struct {
		name string
		set  func(ctx context.Context, b *testenv.Backend, root string)
	}{
		{"list", func(ctx context.Context, b *testenv.Backend, root string) { b.Client.RPush(ctx, root, "x") }},
		{"set", func(ctx context.Context, b *testenv.Backend, root string) { b.Client.SAdd(ctx, root, "x") }},
		{"string", func(ctx context.Context, b *testenv.Backend, root string) { b.Client.Set(ctx, root, "x", 0) }},
		{"zset", func(ctx context.Context, b *testenv.Backend, root string) {
			b.Client.ZAdd(ctx, root, redis.Z{Score: 1, Member: "x"})
		}},
		{"no version", func(ctx context.Context, b *testenv.Backend, root string) {
			b.Client.HSet(ctx, root, "name", "kept", "n", "7")
		}},
		{"garbage version", func(ctx context.Context, b *testenv.Backend, root string) {
			b.Client.HSet(ctx, root, "__v", "12abc", "name", "kept", "n", "7")
		}},
		{"negative version", func(ctx context.Context, b *testenv.Backend, root string) {
			b.Client.HSet(ctx, root, "__v", "-4", "name", "kept", "n", "7")
		}},
	}
	calls := []struct {
		name string
		// replace: the call replaces the model (it may create it)
		replace bool
		run     func(ctx context.Context, m *rapyer.Model[Gauge], id string, mess func()) error
	}{
		{"save", true, func(ctx context.Context, m *rapyer.Model[Gauge], id string, mess func()) error {
			mess()
			return m.Save(ctx, id, Gauge{Name: "new", N: 1})
		}},
		{"exec", false, func(ctx context.Context, m *rapyer.Model[Gauge], id string, mess func()) error {
			mess()
			_, err := m.Exec(ctx, id, tx.Of(ops.Incr(gaugeN, 1), ops.Set(gaugeName, "new")))
			return err
		}},
		{"guarded exec", false, func(ctx context.Context, m *rapyer.Model[Gauge], id string, mess func()) error {
			mess()
			_, err := m.Exec(ctx, id, tx.Of(ops.Require(is.AtLeast(gaugeN, -100)), ops.Incr(gaugeN, 1)))
			return err
		}},
		{"lock", false, func(ctx context.Context, m *rapyer.Model[Gauge], id string, mess func()) error {
			_, err := m.Lock(ctx, id, "edit", func(_ context.Context, g *Gauge) error {
				mess()
				g.N++
				g.Name = "new"
				return nil
			})
			return err
		}},
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Gauge](b.Client, rapyer.Options{Prefix: b.Prefix + "gauge", Lock: lock.Options{TTL: time.Minute}})
		for _, c := range calls {
			// the shapes and direct paths compiled against a sound model
			warm := b.Prefix + "warm"
			if err := m.Save(ctx, warm, Gauge{Name: "w"}); err != nil {
				t.Fatal(err)
			}
			if err := c.run(ctx, m, warm, func() {}); err != nil {
				t.Fatalf("%s on a sound model: %v", c.name, err)
			}
			for _, k := range corrupt {
				if c.replace && (k.name == "no version") {
					continue // a replace of a root without a version is a create
				}
				id := fmt.Sprintf("%s%s_%s", b.Prefix, c.name, strings.ReplaceAll(k.name, " ", "_"))
				id = strings.ReplaceAll(id, " ", "_")
				root := m.Target(id).Root()
				if err := m.Save(ctx, id, Gauge{Name: "before", N: 5}); err != nil {
					t.Fatal(err)
				}
				var want string
				mess := func() {
					b.Client.Del(ctx, root)
					k.set(ctx, b, root)
					want = withoutLocks(slotDump(ctx, t, b, id))
				}
				err := c.run(ctx, m, id, mess)
				got := slotDump(ctx, t, b, id)
				if err == nil || !typedStateErr(err) {
					t.Errorf("%s on a root with %s: %v, want a typed error", c.name, k.name, err)
				}
				if got != want {
					t.Errorf("%s on a root with %s: %v; the slot was\n%s\nand is\n%s", c.name, k.name, err, want, got)
				}
			}
		}
	})
}

// withoutLocks drops the lock keys of a slotDump.
func withoutLocks(dump string) string {
	var keep []string
	for _, l := range strings.SplitAfter(dump, "\n") {
		if !strings.HasPrefix(l, "lock ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}
