package rapyer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestLockLostWithTheModelIsLockLost: a server restarted without
// persistence (or flushed) while Model.Lock's function runs loses the lock
// key and the model together. The save is refused, and the error says the
// lock was lost (ErrLockLost, as documented for a lost lock), with and
// without SkipIfMissing. Before, the batch's check of the model came first:
// ErrNotFound, and with SkipIfMissing a Skipped result and no error at all,
// as if the lock had been held and only the model deleted under it.
func TestLockLostWithTheModelIsLockLost(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		root, _ := m.Key("a")
		for _, skip := range []bool{false, true} {
			if err := m.Save(ctx, "a", Account{Balance: 1, History: []string{"x"}}); err != nil {
				t.Fatal(err)
			}
			var opts []rapyer.Option
			if skip {
				opts = append(opts, rapyer.SkipIfMissing())
			}
			res, err := m.Lock(ctx, "a", "lost", func(ctx context.Context, a *Account) error {
				// all the keys of the model and its lock go, as in a restart
				b.Client.Del(ctx, root, root+":history", root+":lock:lost")
				a.Balance = 2
				return nil
			}, opts...)
			if !errors.Is(err, rapyer.ErrLockLost) || !errors.Is(err, rapyer.ErrNotHeld) {
				t.Fatalf("skip %v: the save after the lock and the model were lost: %v, %+v; want ErrLockLost", skip, err, res)
			}
			if n := b.Client.Exists(ctx, root, root+":history", root+":lock:lost").Val(); n != 0 {
				t.Fatalf("skip %v: the refused save left %d keys", skip, n)
			}
		}
	})
}

// TestLockAllLostWithTheModelIsLockLost: the same for LockAll over two
// models, one of which is lost with its lock.
func TestLockAllLostWithTheModelIsLockLost(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", HashTag: shop})
		for _, id := range []string{"a", "b"} {
			if err := m.Save(ctx, id, Account{Balance: 1}); err != nil {
				t.Fatal(err)
			}
		}
		root, _ := m.Key("b")
		var a, c Account
		held := []rapyer.Held{m.Hold("a", &a), m.Hold("b", &c)}
		_, err := rapyer.LockAll(ctx, "lost", held, func(ctx context.Context) error {
			b.Client.Del(ctx, root, root+":lock:lost")
			a.Balance, c.Balance = 2, 2
			return nil
		}, rapyer.SkipIfMissing())
		if !errors.Is(err, rapyer.ErrLockLost) {
			t.Fatalf("LockAll after one lock and its model were lost: %v; want ErrLockLost", err)
		}
		if got, _ := m.Get(ctx, "a"); got.Balance != 1 {
			t.Fatalf("the other model was saved: %+v", got)
		}
	})
}
