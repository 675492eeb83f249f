package rapyer_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// docs/operations.md: the user "needs ~tx{* too (or none of it, for a
// client that runs every batch with tx.NoRecord)". A user made with the
// documented line minus ~tx{*, on a model whose batches keep no record,
// runs every write path (a record key touched would be refused by the ACL:
// the compiled Save's pooled record keys included). Real server and cluster only: miniredis has no
// ACL (NewUser skips it).
func TestS24aNoRecordUserNeedsNoTxKeys(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "s24anorec"
		rules := slices.DeleteFunc(aclRules(t, leastPrivilege, prefix), func(w string) bool { return w == "~tx{*" })
		// the second model's prefix, as the page says: repeat the ~ pattern
		app := b.NewUser(t, append(rules, "~"+prefix+"p:*")...)
		m := rapyer.MustNew[Account](app, rapyer.Options{Prefix: prefix, Exec: tx.Options{Record: tx.NoRecord}})
		history := lens.Of(func(a *Account) *[]string { return &a.History })
		plain := rapyer.MustNew[S24aPlain](app, rapyer.Options{Prefix: prefix + "p", Exec: tx.Options{Record: tx.NoRecord}})
		step := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s as a user without ~tx{*, with NoRecord: %v", what, err)
			}
		}
		step("Save", m.Save(ctx, "a", Account{Owner: "a", Balance: 100, History: []string{"open"}}))
		step("Save (compiled, no collections)", plain.Save(ctx, "p", S24aPlain{Owner: "p", Balance: 1}))
		step("Create", m.Create(ctx, "b", Account{Owner: "b"}))
		_, err := m.Insert(ctx, Account{Owner: "i"})
		step("Insert", err)
		step("SaveMany", m.SaveMany(ctx, []rapyer.Entry[Account]{{ID: "c", Value: Account{}}, {ID: "d", Value: Account{}}}))
		_, err = m.InsertMany(ctx, Account{}, Account{})
		step("InsertMany", err)
		_, err = m.Exec(ctx, "a", tx.Of(ops.Incr(acctBalance, -30), ops.Append(history, "w")))
		step("Exec", err)
		_, err = plain.Exec(ctx, "p", tx.Of(ops.Incr(s24aPlainBalance, 1)))
		step("Exec (compiled)", err)
		_, err = m.Update(ctx, "a", func(a Account) (tx.Batch, error) { return tx.Of(ops.Set(acctBalance, a.Balance+1)), nil })
		step("Update", err)
		_, err = m.Lock(ctx, "a", "pay", func(_ context.Context, a *Account) error { a.Balance += 10; return nil })
		step("Lock", err)
		step("Expire", m.Expire(ctx, "a", time.Hour))
		step("Persist", m.Persist(ctx, "a"))
		_, err = m.Duplicate(ctx, "a", "a2")
		step("Duplicate", err)
		_, err = m.Delete(ctx, "b")
		step("Delete", err)
		_, err = m.DeleteMany(ctx, "c", "d", "none")
		step("DeleteMany", err)
		a, err := m.Get(ctx, "a")
		step("Get", err)
		if a.Balance != 81 || len(a.History) != 2 {
			t.Fatalf("stored %+v", a)
		}
	})
}

// S24aPlain is a model without collections: its Save and its batches run
// on compiled shapes.
type S24aPlain struct {
	Owner   string
	Balance int
}

var s24aPlainBalance = lens.Of(func(a *S24aPlain) *int { return &a.Balance })
