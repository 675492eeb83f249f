package rapyer_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestIDsYieldsOnlyModels: keys under the prefix that look like roots but
// are not models (a string, a list, a hash without the version field) are
// not ids; each SCAN page costs one more round trip at most, however many
// keys it holds.
func TestIDsYieldsOnlyModels(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		var want []string
		for i := range 40 {
			id := fmt.Sprintf("id%02d", i)
			want = append(want, id)
			if err := m.Save(ctx, id, Account{Owner: id}); err != nil {
				t.Fatal(err)
			}
		}
		junk := map[string]func(key string) error{
			"string": func(k string) error { return b.Client.Set(ctx, k, "junk", 0).Err() },
			"list":   func(k string) error { return b.Client.RPush(ctx, k, "junk").Err() },
			"hash":   func(k string) error { return b.Client.HSet(ctx, k, "Owner", "mallory").Err() },
			"set":    func(k string) error { return b.Client.SAdd(ctx, k, "junk").Err() },
		}
		for name, plant := range junk {
			k, err := m.Key("planted-" + name)
			if err != nil {
				t.Fatal(err)
			}
			if err := plant(k); err != nil {
				t.Fatal(err)
			}
		}
		rt := testenv.CountRoundTrips(m.Client())
		got := idsOf(t, ctx, m)
		if !slices.Equal(got, want) {
			t.Fatalf("IDs gave %v, want %v", got, want)
		}
		cmds := rt.Commands()
		scans, checks := count(cmds, "scan"), count(cmds, "hexists")
		if checks < len(want)+len(junk) || rt.Count() > int64(2*scans) {
			t.Fatalf("%d SCANs, %d HEXISTS in %s: want one pipelined check per page", scans, checks, rt)
		}
	})
}

func count(names []string, name string) int {
	n := 0
	for _, s := range names {
		if s == name {
			n++
		}
	}
	return n
}

// TestIDsWithAHashTagSkipsNonModels: the same with models grouped under a
// hash tag (<prefix>:{<tag>}:{<id>}).
func TestIDsWithAHashTagSkipsNonModels(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", HashTag: func(string) string { return "bank" }})
		for _, id := range []string{"a", "b"} {
			if err := m.Save(ctx, id, Account{Owner: id}); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range []string{"junk", "nover"} {
			k, err := m.Key(id)
			if err != nil {
				t.Fatal(err)
			}
			if id == "junk" {
				b.Client.Set(ctx, k, "x", 0)
			} else {
				b.Client.HSet(ctx, k, "Owner", "x")
			}
		}
		got := idsOf(t, ctx, m)
		if !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("IDs gave %v, want [a b]", got)
		}
	})
}

// repeatScan makes every SCAN reply hold each key of its page twice, as a
// SCAN may when the keyspace is rehashed while it runs.
type repeatScan struct{}

func (repeatScan) DialHook(next redis.DialHook) redis.DialHook { return next }
func (repeatScan) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (repeatScan) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if c, ok := cmd.(*redis.ScanCmd); ok && err == nil {
			page, cursor := c.Val()
			c.SetVal(append(slices.Clone(page), page...), cursor)
		}
		return err
	}
}

// TestIDsWithoutRepeats: SCAN may return a key twice; IDs yields it once.
func TestIDsWithoutRepeats(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "rep"})
		var want []string
		for i := range 30 {
			id := fmt.Sprintf("id%02d", i)
			want = append(want, id)
			if err := m.Save(ctx, id, Account{Owner: id}); err != nil {
				t.Fatal(err)
			}
		}
		c := b.NewClient(t, nil)
		c.AddHook(repeatScan{})
		if cc, ok := c.(*redis.ClusterClient); ok {
			_ = cc.ForEachMaster(ctx, func(_ context.Context, n *redis.Client) error {
				n.AddHook(repeatScan{})
				return nil
			})
		}
		m = rapyer.MustNew[Account](c, rapyer.Options{Prefix: b.Prefix + "rep"})
		got := idsOf(t, ctx, m)
		if !slices.Equal(got, want) {
			t.Fatalf("IDs gave %v, want each of %v once", got, want)
		}
	})
}

// idsOf is what m.IDs yields, sorted; an error of the iteration fails t.
// Repeats are kept, so that a test can see one.
func idsOf(t *testing.T, ctx context.Context, m *rapyer.Model[Account]) []string {
	t.Helper()
	var ids []string
	for id, err := range m.IDs(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
