package tx_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

type Account struct {
	Owner   string
	Balance int
	History []string
}

var (
	Balance = lens.Of(func(a *Account) *int { return &a.Balance })
	History = lens.Of(func(a *Account) *[]string { return &a.History })
)

func TestAtomicBatchIsOneRoundTripWhateverItsSize(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "a", Account{}); err != nil {
			t.Fatal(err)
		}
		counter := testenv.CountRoundTrips(b.Client)
		for _, n := range []int{1, 10, 100} {
			var o []ops.Op
			for i := range n {
				if i%2 == 0 {
					o = append(o, ops.Incr(Balance, 1))
				} else {
					o = append(o, ops.Append(History, fmt.Sprint(i)))
				}
			}
			if _, err := m.Exec(ctx, "a", tx.Of(o...)); err != nil {
				t.Fatal(err)
			}
			counter.Reset()
			if _, err := m.Exec(ctx, "a", tx.Of(o...)); err != nil {
				t.Fatal(err)
			}
			if c := counter.Count(); c != 1 {
				t.Fatalf("a batch of %d ops took %d round trips: %v", n, c, counter.Commands())
			}
		}
		got, err := m.Get(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if want := 2 * (1 + 5 + 50); got.Balance != want {
			t.Fatalf("balance %d, want %d", got.Balance, want)
		}
	})
}

// TestLuaFlushIsRecovered empties the server of the interpreter (SCRIPT
// FLUSH and FUNCTION FLUSH, as a restart does) before a batch: the batch
// loads it again and runs, with no error and the fewest round trips.
func TestLuaFlushIsRecovered(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "a", Account{}); err != nil {
			t.Fatal(err)
		}
		flush := func() {
			if err := testenv.FlushLua(ctx, b.Client); err != nil {
				t.Fatal(err)
			}
		}
		flush()
		counter := testenv.CountRoundTrips(b.Client)
		inc := ops.Incr(Balance, 5)
		// Len has no compiled shape (TestShapeFlushIsRecovered): the batch
		// runs on the interpreter
		res, err := m.Exec(ctx, "a", tx.Of(inc, ops.Len(History)))
		if err != nil {
			t.Fatalf("the first batch after the flush: %v", err)
		}
		if n, _ := inc.Result(res); n != 5 {
			t.Fatalf("incr yielded %d", n)
		}
		// miniredis has no functions: EVALSHA answers NOSCRIPT, then EVAL
		// sends the source and runs it. A real server answers the FCALL
		// with "Function not found"; the library is loaded (on every
		// master of a cluster) and the FCALL sent again. Every batch
		// travels in MULTI/EXEC (go-redis never resends it blindly).
		want := []string{"multi", "evalsha", "exec", "multi", "eval", "exec"}
		switch b.Kind {
		case testenv.Server:
			want = []string{"multi", "fcall", "exec", "function", "multi", "fcall", "exec"}
		case testenv.Cluster:
			want = []string{"multi", "fcall", "exec", "function", "function", "function", "multi", "fcall", "exec"}
		}
		if got := counter.Commands(); !slices.Equal(got, want) {
			t.Fatalf("recovery sent %v, want %v", got, want)
		}
		counter.Reset()
		if _, err := m.Exec(ctx, "a", tx.Of(inc, ops.Len(History))); err != nil {
			t.Fatal(err)
		}
		if c := counter.Count(); c != 1 {
			t.Fatalf("the batch after recovery took %d round trips", c)
		}
		// Optimistic updates run the batch inside MULTI/EXEC: a flush there
		// costs one extra attempt, never an error.
		flush()
		_, err = m.Update(ctx, "a", func(a Account) (tx.Batch, error) {
			return tx.Of(ops.Set(Balance, a.Balance+1)), nil
		})
		if err != nil {
			t.Fatalf("optimistic update after the flush: %v", err)
		}
		if got, _ := m.Get(ctx, "a"); got.Balance != 11 {
			t.Fatalf("balance %d after the update", got.Balance)
		}
	})
}

func TestConcurrentIncrementsGiveTheExactTotal(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "c", Account{}); err != nil {
			t.Fatal(err)
		}
		const workers, each = 8, 1000
		testenv.Workers(t, workers, func(int) error {
			for range each {
				if _, err := m.Exec(ctx, "c", tx.Of(ops.Incr(Balance, 1))); err != nil {
					return err
				}
			}
			return nil
		})
		got, err := m.Get(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		if got.Balance != workers*each {
			t.Fatalf("total %d, want %d", got.Balance, workers*each)
		}
	})
}

// transfers runs random transfers among accounts with move, and checks the
// sum is conserved and no balance went negative.
func transfers(t *testing.T, m *rapyer.Model[Account], ids []string, workers, each int, move func(from, to string, amount int) (attempts int, err error)) (total int) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		if err := m.Save(ctx, id, Account{Owner: id, Balance: 100}); err != nil {
			t.Fatal(err)
		}
	}
	seed := testenv.Seed(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(seed), uint64(w)))
			for range each {
				from, to := ids[r.IntN(len(ids))], ids[r.IntN(len(ids))]
				if from == to {
					continue
				}
				n, err := move(from, to, 1+r.IntN(60))
				if err != nil && !errors.Is(err, rapyer.ErrPrecondition) && !errors.Is(err, errInsufficient) {
					errc <- err
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	found, missing, err := m.GetMany(ctx, ids)
	if err != nil || len(missing) > 0 {
		t.Fatal(err, missing)
	}
	sum := 0
	for _, e := range found {
		if e.Value.Balance < 0 {
			t.Fatalf("%s went negative: %d", e.ID, e.Value.Balance)
		}
		sum += e.Value.Balance
	}
	if sum != 100*len(ids) {
		t.Fatalf("the sum is %d, want %d", sum, 100*len(ids))
	}
	return total
}

var errInsufficient = errors.New("insufficient funds")

func TestOptimisticTransfersConserveTheSum(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		// On a cluster the accounts must share a slot to be updated together.
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", HashTag: func(string) string { return "bank" }})
		ids := make([]string, 10)
		for i := range ids {
			ids[i] = fmt.Sprintf("acc%d", i)
		}
		attempts := transfers(t, m, ids, 8, 200, func(from, to string, amount int) (int, error) {
			res, err := m.UpdateMany(ctx, []string{from, to}, func(vs []rapyer_Account) (tx.Batch, error) {
				if vs[0].Balance < amount {
					return tx.Batch{}, errInsufficient
				}
				return tx.Join(
					tx.On(m.Target(from), ops.Set(Balance, vs[0].Balance-amount)),
					tx.On(m.Target(to), ops.Set(Balance, vs[1].Balance+amount)),
				), nil
			}, rapyer.WithRetry(tx.Retry{Attempts: 1000}))
			if err != nil {
				return 0, err
			}
			return res.Attempts, nil
		})
		t.Logf("%s: 1600 optimistic transfers took %d attempts (%.2f per transfer)", b.Kind, attempts, float64(attempts)/1600)
		if attempts < 1 {
			t.Fatal("no attempts were reported")
		}
	})
}

type rapyer_Account = Account

func TestConditionalBatchTransfersConserveTheSum(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", HashTag: func(string) string { return "bank" }})
		ids := make([]string, 10)
		for i := range ids {
			ids[i] = fmt.Sprintf("acc%d", i)
		}
		refused := 0
		var mu sync.Mutex
		transfers(t, m, ids, 8, 200, func(from, to string, amount int) (int, error) {
			_, err := tx.Exec(ctx, m.Client(), tx.Join(
				tx.On(m.Target(from), ops.Require(is.AtLeast(Balance, amount)), ops.Decr(Balance, amount)),
				tx.On(m.Target(to), ops.Incr(Balance, amount)),
			), tx.Options{})
			if errors.Is(err, rapyer.ErrPrecondition) {
				mu.Lock()
				refused++
				mu.Unlock()
			}
			return 1, err
		})
		t.Logf("%s: %d of 1600 transfers refused by the guard", b.Kind, refused)
	})
}

func TestBatchesAcrossSlotsFailBeforeSending(t *testing.T) {
	b := testenv.On(t, testenv.Cluster)
	ctx := context.Background()
	m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
	for _, id := range []string{"alice", "bob"} {
		if err := m.Save(ctx, id, Account{Balance: 10}); err != nil {
			t.Fatal(err)
		}
	}
	counter := testenv.CountRoundTrips(b.Client)
	_, err := tx.Exec(ctx, m.Client(), tx.Join(
		tx.On(m.Target("alice"), ops.Decr(Balance, 5)),
		tx.On(m.Target("bob"), ops.Incr(Balance, 5)),
	), tx.Options{})
	if !errors.Is(err, rapyer.ErrCrossSlot) {
		t.Fatalf("cross-slot batch: %v", err)
	}
	if c := counter.Count(); c != 0 {
		t.Fatalf("a cross-slot batch sent %d round trips", c)
	}
	_, err = m.UpdateMany(ctx, []string{"alice", "bob"}, func(vs []Account) (tx.Batch, error) { return tx.Batch{}, nil })
	if !errors.Is(err, rapyer.ErrCrossSlot) {
		t.Fatalf("cross-slot optimistic update: %v", err)
	}
	for _, id := range []string{"alice", "bob"} {
		if a, _ := m.Get(ctx, id); a.Balance != 10 {
			t.Fatalf("%s changed to %d", id, a.Balance)
		}
	}
}

// TestBatchesAcrossSlotsOnAClusterNodeAreCrossSlot: a plain client pointed
// at a cluster node cannot check slots before sending; the node refuses a
// batch, an optimistic update and a DeleteMany over two slots with
// CROSSSLOT, which comes back as ErrCrossSlot (not ErrRefused), with
// nothing changed.
func TestBatchesAcrossSlotsOnAClusterNodeAreCrossSlot(t *testing.T) {
	b := testenv.On(t, testenv.Cluster)
	ctx := context.Background()
	m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
	for _, id := range []string{"alice", "bob"} {
		if err := m.Save(ctx, id, Account{Balance: 10}); err != nil {
			t.Fatal(err)
		}
	}
	root, _ := m.Key("alice")
	node, err := b.Client.(*redis.ClusterClient).MasterForKey(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	plain := redis.NewClient(&redis.Options{Addr: node.Options().Addr})
	t.Cleanup(func() { _ = plain.Close() })
	pm := rapyer.MustNew[Account](plain, rapyer.Options{Prefix: b.Prefix + "acct"})
	want := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, rapyer.ErrCrossSlot) || errors.Is(err, rapyer.ErrRefused) {
			t.Fatalf("%s over two slots on a plain client of a node: %v, want ErrCrossSlot", what, err)
		}
	}
	for _, o := range []tx.Options{{}, {Record: tx.NoRecord}} {
		_, err := tx.Exec(ctx, plain, tx.Join(
			tx.On(pm.Target("alice"), ops.Decr(Balance, 5)),
			tx.On(pm.Target("bob"), ops.Incr(Balance, 5)),
		), o)
		want("Exec", err)
	}
	_, err = pm.UpdateMany(ctx, []string{"alice", "bob"}, func(vs []Account) (tx.Batch, error) {
		return tx.Of(ops.Incr(Balance, 1)), nil
	})
	want("UpdateMany", err)
	_, err = pm.DeleteMany(ctx, "alice", "bob")
	want("DeleteMany", err)
	for _, id := range []string{"alice", "bob"} {
		if a, err := m.Get(ctx, id); err != nil || a.Balance != 10 {
			t.Fatalf("%s: %+v, %v; want it unchanged", id, a, err)
		}
	}
}

// String guards compare bytes, as Go does, whatever the server's locale.
func TestStringGuardsCompareBytes(t *testing.T) {
	owner := lens.Of(func(a *Account) *string { return &a.Owner })
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "a", Account{Owner: "été"}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			op   ops.Op
			want bool
		}{
			{ops.Require(is.Above(owner, "zebra")), "été" > "zebra"},
			{ops.Require(is.Below(owner, "zebra")), "été" < "zebra"},
			{ops.Require(is.Above(owner, "Z")), true},
			{ops.Require(is.AtMost(owner, "été")), true},
			{ops.Require(is.Below(owner, "été\x00")), true},
		} {
			_, err := m.Exec(ctx, "a", tx.Of(c.op))
			if got := err == nil; got != c.want {
				t.Errorf("%s held=%v, want %v (%v)", c.op, got, c.want, err)
			}
		}
	})
}
