package rapyer_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

type ixAged struct {
	Name string
	Age  int
}

var agAge = lens.Of(func(u *ixAged) *int { return &u.Age })

// TestOnlyWritesOfModelsWithATTLPurge: a model that expired (Redis ran no
// script) lingers in the indexes while only models without a TTL are
// written (their writes, compiled or not, read no deadline: session 8),
// is never returned by a query, and is purged by a query of its group or
// by a write of a model with a TTL; the index oracle holds after each
// (it lists the models with a query, which purges: it checks after the
// lingering is seen).
func TestOnlyWritesOfModelsWithATTLPurge(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		specs := []index.Spec{index.On(agAge)}
		m, err := rapyer.New[ixAged](b.Client, rapyer.Options{Prefix: b.Prefix + "ag", Indexes: specs, Groups: 1})
		if err != nil {
			t.Fatal(err)
		}
		o := ixcheck.MustNew[ixAged](t, b.Client, b.Prefix+"ag", 1, specs, m.IDs)
		base := o.Base(0)
		for i, id := range []string{"a", "b", "c", "d"} {
			if err := m.Save(ctx, id, ixAged{Name: id, Age: i + 1}); err != nil {
				t.Fatal(err)
			}
		}
		// a and c get a TTL, then expire: their roots go, their
		// deadlines pass, no script runs
		expire := func(id string) {
			t.Helper()
			if _, err := m.Exec(ctx, id, tx.Of(ops.Expire[ixAged](time.Hour))); err != nil {
				t.Fatal(err)
			}
			b.Client.Del(ctx, m.Target(id).Root())
			b.Client.ZAdd(ctx, base+":@exp", redis.Z{Score: 1, Member: id})
		}
		lingers := func(id string, want bool) {
			t.Helper()
			if got := b.Client.HExists(ctx, base+":@back", id).Val(); got != want {
				t.Fatalf("%s in @back: %v, want %v", id, got, want)
			}
		}
		expire("a")
		lingers("a", true)
		for _, w := range []func() error{
			func() error { _, err := m.Exec(ctx, "b", tx.Of(ops.Incr(agAge, 10))); return err },
			func() error { return m.Save(ctx, "b", ixAged{Name: "b", Age: 20}) },
			func() error { return m.Save(ctx, "e", ixAged{Name: "e", Age: 5}) },
		} {
			if err := w(); err != nil {
				t.Fatal(err)
			}
			lingers("a", true)
		}
		if n := b.Client.ZCard(ctx, base+":@exp").Val(); n != 1 {
			t.Fatalf("@exp holds %d, want a's deadline", n)
		}
		// a query never returns it, and purges it
		for v, err := range m.Find(ctx, query.Where(is.Equal(agAge, 1))) {
			t.Fatalf("found %+v, %v", v, err)
		}
		lingers("a", false)
		o.Check(t, "after a query")
		// a write of a model with a TTL purges too
		expire("c")
		if _, err := m.Exec(ctx, "d", tx.Of(ops.Expire[ixAged](time.Hour), ops.Incr(agAge, 1))); err != nil {
			t.Fatal(err)
		}
		lingers("c", false)
		o.Check(t, "after a write of a model with a TTL")
	})
}
