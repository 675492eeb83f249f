package rapyer_test

import (
	"context"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// lifetimeOp sets the model's TTL under a name that is neither Expire nor
// Persist: an op renamed, or a new op that sets the TTL.
type lifetimeOp time.Duration

func (o lifetimeOp) String() string { return "KeepFor(" + time.Duration(o).String() + ")" }

func (o lifetimeOp) Compile(b *prog.Builder, t prog.Target) error {
	b.Lifetime(t.Root, prog.SetTTL, time.Duration(o).Milliseconds())
	return nil
}

// TestRefreshTTLAsksTheProgram: whether a batch sets the model's TTL itself
// is known from what its ops compile to, not from their names. A batch
// whose op sets the TTL under another name keeps that TTL (the refresh
// once looked for "Expire(" and "Persist(" and overrode it); an Expire of
// another model in the batch does not stop the refresh of this one (the
// names matched it).
func TestRefreshTTLAsksTheProgram(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "named", TTL: time.Hour, RefreshTTL: true, HashTag: func(string) string { return "one" }})
		balance := lens.Of(func(a *Account) *int { return &a.Balance })
		for _, id := range []string{"a", "b"} {
			if err := m.Save(ctx, id, Account{Owner: id}); err != nil {
				t.Fatal(err)
			}
		}
		ttl := func(id string) time.Duration {
			t.Helper()
			d, err := m.TTL(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		if _, err := m.Exec(ctx, "a", tx.Of(ops.Incr(balance, 1), lifetimeOp(time.Minute))); err != nil {
			t.Fatal(err)
		}
		if d := ttl("a"); d > time.Minute {
			t.Fatalf("a batch that set a TTL of a minute under another name left %s: the refresh overrode it", d)
		}
		// a's TTL is a minute now; an Expire of b in a's batch must not
		// keep a from being refreshed
		b2 := tx.On(m.Target("b"), ops.Expire[Account](2*time.Minute))
		if _, err := m.Exec(ctx, "a", tx.Join(tx.Of(ops.Incr(balance, 1)), b2)); err != nil {
			t.Fatal(err)
		}
		if d := ttl("a"); d < 59*time.Minute {
			t.Fatalf("a batch on a with an Expire of b left a with %s: a was not refreshed", d)
		}
		if d := ttl("b"); d > 2*time.Minute {
			t.Fatalf("b has %s; want the Expire's 2 minutes", d)
		}
	})
}
