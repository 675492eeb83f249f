package rapyer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestAnyNegativeWaitOrBudgetTurnsItOff pins what README.md and
// docs/concepts.md say of the option style: a negative Wait is lock.NoWait
// and a negative Budget field is tx.Unlimited, whatever its value (-5s,
// -5), as the tx and lock packages document; only the fields without a
// named "off" refuse a negative value.
func TestAnyNegativeWaitOrBudgetTurnsItOff(t *testing.T) {
	owner := lens.Of(func(a *Account) *string { return &a.Owner })
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "neg"})
		if err := m.Save(ctx, "a", Account{Owner: strings.Repeat("x", 1<<20+1<<19)}); err != nil {
			t.Fatal(err)
		}
		grow := tx.Of(ops.AppendText(owner, strings.Repeat("y", 1<<20)))
		if _, err := m.Exec(ctx, "a", grow); !errors.Is(err, rapyer.ErrTooLarge) {
			t.Fatalf("2.5 MiB of text under the default budget: %v, want ErrTooLarge", err)
		}
		if _, err := m.Exec(ctx, "a", grow, rapyer.WithBudget(tx.Budget{Bytes: -5})); err != nil {
			t.Fatalf("Budget.Bytes -5 (no budget, as tx.Unlimited): %v", err)
		}
		if _, err := m.Lock(ctx, "a", "w", func(ctx context.Context, a *Account) error {
			// The same action from inside: held, so a Wait of -5s tries once.
			// Were it a wait, the 5 s context would end it first.
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_, err := m.Lock(wctx, "a", "w", func(context.Context, *Account) error { return nil }, rapyer.WithWait(-5*time.Second))
			if !errors.Is(err, rapyer.ErrNotAcquired) {
				t.Errorf("Wait -5s on a held lock: %v, want ErrNotAcquired at once (lock.NoWait)", err)
			}
			return nil
		}, rapyer.WithWait(lock.NoWait)); err != nil {
			t.Fatal(err)
		}
	})
}
