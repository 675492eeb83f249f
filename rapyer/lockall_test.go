package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// Ticket is a second model type for locks over models of different types.
type Ticket struct {
	Status string
	Seats  []string
}

// shop puts every model in one hash tag, so that a LockAll over them saves
// in one atomic batch on the cluster too.
func shop(string) string { return "shop" }

// twoTypes returns a model of accounts and one of tickets, saved with
// account "a" (Balance 100) and ticket "t" (Status "new").
func twoTypes(t *testing.T, b *testenv.Backend, o rapyer.Options) (*rapyer.Model[Account], *rapyer.Model[Ticket]) {
	t.Helper()
	ctx := context.Background()
	ao, to := o, o
	ao.Prefix, to.Prefix = b.Prefix+"acct", b.Prefix+"ticket"
	accounts := rapyer.MustNew[Account](b.Client, ao)
	tickets := rapyer.MustNew[Ticket](b.Client, to)
	if err := accounts.Save(ctx, "a", Account{Balance: 100}); err != nil {
		t.Fatal(err)
	}
	if err := tickets.Save(ctx, "t", Ticket{Status: "new"}); err != nil {
		t.Fatal(err)
	}
	return accounts, tickets
}

// TestLockAllOverTwoTypes: LockAll loads models of two types into their
// variables, and saves what the function changed in both.
func TestLockAllOverTwoTypes(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for _, tag := range []bool{true, false} {
			o := rapyer.Options{}
			if tag {
				o.HashTag = shop
			}
			accounts, tickets := twoTypes(t, b, o)
			var a Account
			var tk Ticket
			held := []rapyer.Held{tickets.Hold("t", &tk), accounts.Hold("a", &a)}
			res, err := rapyer.LockAll(ctx, "buy", held, func(ctx context.Context) error {
				if a.Balance != 100 || tk.Status != "new" {
					return fmt.Errorf("loaded %+v and %+v", a, tk)
				}
				a.Balance -= 30
				tk.Status, tk.Seats = "sold", []string{"12A"}
				return ctx.Err()
			})
			if err != nil || res == nil {
				t.Fatalf("tag %v: LockAll: %v, %v", tag, res, err)
			}
			gotA, _ := accounts.Get(ctx, "a")
			gotT, _ := tickets.Get(ctx, "t")
			if gotA.Balance != 70 || gotT.Status != "sold" || len(gotT.Seats) != 1 {
				t.Fatalf("tag %v: saved %+v and %+v", tag, gotA, gotT)
			}
		}
	})
}

// TestLockAllLostLockSavesNeither: on one slot the save of every model is
// one batch fenced by every lock: when one lock is lost, the function's
// context ends (cause rapyer.ErrNotHeld) and the save is refused whole. Across
// slots (a cluster without a shared tag) each model is saved by its own
// batch; a lock known lost before the first of them (here the watchdog
// found it gone) saves none. (Before session 16 the one whose lock held
// was saved, the other refused: the call was left half done.)
func TestLockAllLostLockSavesNeither(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for _, tag := range []bool{true, false} {
			lostLockOverTwoTypes(t, b, tag)
		}
	})
}

func lostLockOverTwoTypes(t *testing.T, b *testenv.Backend, tag bool) {
	ctx := context.Background()
	o := rapyer.Options{}
	if tag {
		o.HashTag = shop
	}
	accounts, tickets := twoTypes(t, b, o)
	root, _ := tickets.Key("t")
	var a Account
	var tk Ticket
	held := []rapyer.Held{accounts.Hold("a", &a), tickets.Hold("t", &tk)}
	_, err := rapyer.LockAll(ctx, "buy", held, func(ctx context.Context) error {
		a.Balance, tk.Status = 0, "sold"
		// Someone deletes the ticket's lock by hand; the watchdog notices
		// at its next extension and ends our context.
		b.Client.Del(ctx, root+":lock:buy")
		select {
		case <-ctx.Done():
			if !errors.Is(context.Cause(ctx), rapyer.ErrNotHeld) {
				return fmt.Errorf("cause %v", context.Cause(ctx))
			}
			return nil // try to save anyway: the fence must refuse it
		case <-time.After(30 * time.Second):
			return errors.New("the context never ended")
		}
	}, rapyer.WithLockTTL(600*time.Millisecond), rapyer.WithAutoExtend())
	if !errors.Is(err, rapyer.ErrLockLost) {
		t.Fatalf("tag %v: the save after a lost lock: %v", tag, err)
	}
	gotA, _ := accounts.Get(ctx, "a")
	gotT, _ := tickets.Get(ctx, "t")
	if gotT.Status != "new" {
		t.Fatalf("tag %v: the model whose lock was lost was saved: %+v", tag, gotT)
	}
	if gotA.Balance != 100 || errors.Is(err, rapyer.ErrPartlyApplied) {
		t.Fatalf("tag %v: a lock known lost before the save saved the other model: %+v (%v)", tag, gotA, err)
	}
}

// TestLockAllOppositeOrdersOverTwoTypes: two callers lock the same two
// models of different types, one naming them in the opposite order of the
// other; neither deadlocks (the locks are taken in the order of the keys),
// and every change is kept.
func TestLockAllOppositeOrdersOverTwoTypes(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		accounts, tickets := twoTypes(t, b, rapyer.Options{HashTag: shop})
		const rounds = 50
		testenv.Workers(t, 2, func(w int) error {
			for range rounds {
				var a Account
				var tk Ticket
				held := []rapyer.Held{accounts.Hold("a", &a), tickets.Hold("t", &tk)}
				if w == 1 {
					held[0], held[1] = held[1], held[0]
				}
				_, err := rapyer.LockAll(ctx, "buy", held, func(context.Context) error {
					a.Balance--
					tk.Seats = append(tk.Seats, fmt.Sprint(w))
					return nil
				}, rapyer.WithWait(time.Minute))
				if err != nil {
					return err
				}
			}
			return nil
		})
		gotA, _ := accounts.Get(ctx, "a")
		gotT, _ := tickets.Get(ctx, "t")
		if gotA.Balance != 100-2*rounds || len(gotT.Seats) != 2*rounds {
			t.Fatalf("after %d locked changes: balance %d, %d seats", 2*rounds, gotA.Balance, len(gotT.Seats))
		}
	})
}

// TestLockAllRefusesBadInput: no models, a zero Held, a bad id
// (rapyer.ErrInvalidID), a nil variable, a nil function, a model given twice and
// models on different clients are refused with rapyer.ErrInvalid before any lock is
// taken.
func TestLockAllRefusesBadInput(t *testing.T) {
	b := testenv.On(t, testenv.Mini)
	other := testenv.On(t, testenv.Mini)
	ctx := context.Background()
	accounts, tickets := twoTypes(t, b, rapyer.Options{})
	elsewhere := rapyer.MustNew[Ticket](other.Client, rapyer.Options{Prefix: b.Prefix + "ticket"})
	var a Account
	var tk Ticket
	nop := func(context.Context) error { return nil }
	before := keysOf(t, b)
	for name, c := range map[string]struct {
		held []rapyer.Held
		fn   func(context.Context) error
	}{
		"no models":         {nil, nop},
		"a zero Held":       {[]rapyer.Held{{}}, nop},
		"a bad id":          {[]rapyer.Held{accounts.Hold("a{b}", &a)}, nop},
		"a nil variable":    {[]rapyer.Held{accounts.Hold("a", nil)}, nop},
		"a nil function":    {[]rapyer.Held{accounts.Hold("a", &a)}, nil},
		"a model twice":     {[]rapyer.Held{accounts.Hold("a", &a), tickets.Hold("t", &tk), accounts.Hold("a", new(Account))}, nop},
		"different clients": {[]rapyer.Held{accounts.Hold("a", &a), elsewhere.Hold("t", &tk)}, nop},
	} {
		want := rapyer.ErrInvalid
		if name == "a bad id" {
			want = rapyer.ErrInvalidID
		}
		if _, err := rapyer.LockAll(ctx, "buy", c.held, c.fn); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	if _, err := accounts.Lock(ctx, "a", "buy", nil); !errors.Is(err, rapyer.ErrInvalid) {
		t.Errorf("Lock with a nil function: %v, want ErrInvalid", err)
	}
	if after := keysOf(t, b); len(after) != len(before) {
		t.Fatalf("refused calls left keys: %v", after)
	}
}

// TestPerCallOptionsMerge: a per-call option edits a copy of the model's
// Options. A per-call lock TTL keeps the model's AutoExtend (the lock is
// extended while the function runs, its context stays alive, and its save
// lands) and the model's Wait (NoWait: a held lock fails at once with
// rapyer.ErrNotAcquired).
func TestPerCallOptionsMerge(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct",
			Lock: lock.Options{TTL: time.Second, AutoExtend: true, Wait: lock.NoWait}})
		if err := m.Save(ctx, "a", Account{Balance: 1}); err != nil {
			t.Fatal(err)
		}
		root, err := m.Key("a")
		if err != nil {
			t.Fatal(err)
		}
		// A TTL of seconds, so that an extension every third of it survives
		// a loaded machine; the function waits for two extensions, which a
		// lock without AutoExtend never gets.
		const ttl = 3 * time.Second
		_, err = m.Lock(ctx, "a", "long", func(ctx context.Context, a *Account) error {
			if err := awaitExtensions(ctx, b, root+":lock:long", ttl, 2); err != nil {
				return err
			}
			a.Balance = 2
			return nil
		}, rapyer.WithLockTTL(ttl))
		if err != nil {
			t.Fatalf("a per-call TTL dropped the model's AutoExtend: %v", err)
		}
		if got, _ := m.Get(ctx, "a"); got.Balance != 2 {
			t.Fatalf("saved %+v", got)
		}
		held, done := make(chan struct{}), make(chan struct{})
		go func() {
			_, _ = m.Lock(ctx, "a", "w", func(context.Context, *Account) error { close(held); <-done; return nil })
		}()
		<-held
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err = m.Lock(wctx, "a", "w", func(context.Context, *Account) error { return nil }, rapyer.WithLockTTL(time.Second))
		cancel()
		close(done)
		if !errors.Is(err, rapyer.ErrNotAcquired) {
			t.Fatalf("a per-call TTL dropped the model's NoWait: %v, want ErrNotAcquired", err)
		}
	})
}

// TestLockSkipIfMissing: with SkipIfMissing a Lock of a missing model takes
// no lock, does not call its function, and reports Skipped.
func TestLockSkipIfMissing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		called := false
		res, err := m.Lock(ctx, "gone", "w", func(context.Context, *Account) error { called = true; return nil }, rapyer.SkipIfMissing())
		if err != nil || res == nil || !res.Skipped || called {
			t.Fatalf("Lock of a missing model with SkipIfMissing: %+v, %v, called %v", res, err, called)
		}
		if _, err := m.Lock(ctx, "gone", "w", func(context.Context, *Account) error { return nil }); !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("without SkipIfMissing: %v, want ErrNotFound", err)
		}
	})
}

// TestLockAllFailedCheckSavesNeither: on one slot, when the save of one
// model fails its checks (its list key was made a string under the lock),
// the other model is not saved either, and the locks are released.
func TestLockAllFailedCheckSavesNeither(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		accounts, tickets := twoTypes(t, b, rapyer.Options{HashTag: shop})
		ks, _ := tickets.Keys("t")
		var a Account
		var tk Ticket
		held := []rapyer.Held{accounts.Hold("a", &a), tickets.Hold("t", &tk)}
		_, err := rapyer.LockAll(ctx, "buy", held, func(ctx context.Context) error {
			a.Balance, tk.Seats = 0, []string{"1A"}
			return b.Client.Set(ctx, ks[1], "not a list", 0).Err()
		})
		if !errors.Is(err, rapyer.ErrWrongType) {
			t.Fatalf("a save over a key of the wrong type: %v, want ErrWrongType", err)
		}
		if got, _ := accounts.Get(ctx, "a"); got.Balance != 100 {
			t.Fatalf("the other model was saved: %+v", got)
		}
		b.Client.Del(ctx, ks[1])
		if _, err := rapyer.LockAll(ctx, "buy", held, func(context.Context) error { return nil }, rapyer.WithWait(lock.NoWait)); err != nil {
			t.Fatalf("the locks were left held: %v", err)
		}
	})
}

// awaitExtensions returns once the lock key lk (of TTL ttl) has been
// extended n times, or an error when ctx ends or a minute passes. On a real
// server an extension shows as its PTTL going up; on miniredis, where keys
// age only by FastForward, half a TTL is moved on and the key must get more
// than that back.
func awaitExtensions(ctx context.Context, b *testenv.Backend, lk string, ttl time.Duration, n int) error {
	deadline := time.Now().Add(time.Minute)
	last := time.Duration(-1)
	if b.Mini != nil {
		b.Mini.FastForward(ttl / 2)
	}
	for seen := 0; seen < n; {
		if err := context.Cause(ctx); err != nil {
			return fmt.Errorf("the context ended: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d extensions of %s in a minute", seen, n, lk)
		}
		var left time.Duration
		if b.Mini != nil {
			left = b.Mini.TTL(lk)
		} else {
			left = b.Client.PTTL(ctx, lk).Val()
		}
		switch {
		case b.Mini != nil && left > ttl/2:
			seen++
			b.Mini.FastForward(ttl / 2)
		case b.Mini == nil && last >= 0 && left > last:
			seen++
		}
		last = left
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Point is a model of one hash whose copy shares nothing (a flat type).
type Point struct {
	X, Y  int
	Label string
}

// TestLockAllLoadsOverStaleVariables: LockAll loads each model into its
// variable whatever the variable held before (what a model does not store
// reads as its zero value, not as the stale one), for a type of one hash
// and for one with collections, and saves only what fn changed.
func TestLockAllLoadsOverStaleVariables(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		accounts, _ := twoTypes(t, b, rapyer.Options{HashTag: shop})
		points := rapyer.MustNew[Point](b.Client, rapyer.Options{Prefix: b.Prefix + "point", HashTag: shop})
		if err := points.Save(ctx, "p", Point{X: 1}); err != nil {
			t.Fatal(err)
		}
		a := Account{Owner: "stale", Balance: -1, History: []string{"stale"}, Limits: map[string]int{"stale": 1}}
		p := Point{X: -1, Y: 9, Label: "stale"}
		held := []rapyer.Held{accounts.Hold("a", &a), points.Hold("p", &p)}
		_, err := rapyer.LockAll(ctx, "move", held, func(context.Context) error {
			if a.Owner != "" || a.Balance != 100 || len(a.History) != 0 || len(a.Limits) != 0 {
				return fmt.Errorf("loaded account %+v", a)
			}
			if p != (Point{X: 1}) {
				return fmt.Errorf("loaded point %+v", p)
			}
			a.History = append(a.History, "moved")
			p.Y = 2
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		gotA, err := accounts.Get(ctx, "a")
		if err != nil || gotA.Balance != 100 || len(gotA.History) != 1 {
			t.Fatalf("account after: %+v, %v", gotA, err)
		}
		if gotP, err := points.Get(ctx, "p"); err != nil || gotP != (Point{X: 1, Y: 2}) {
			t.Fatalf("point after: %+v, %v", gotP, err)
		}
	})
}
