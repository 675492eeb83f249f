package rapyer_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestAPageOfTheLargestLimitHoldsEveryModel: a Page, Find and FindIDs of
// a query with Limit(math.MaxInt) hold every model, the page with no
// cursor after it. Page asked for one result past its size, limit+1,
// which wrapped to math.MinInt and panicked slicing the results.
func TestAPageOfTheLargestLimitHoldsEveryModel(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newItems(t, b, "maxpage", rapyer.Options{})
		want := saveItems(t, m, 7, func(i int) QItem { return QItem{Status: "new", Price: i} })
		for _, q := range []query.Query[QItem]{
			query.Where(is.Equal(iStatus, "new")).Limit(math.MaxInt),
			query.Where(is.Equal(iStatus, "new")).OrderBy(iPrice).Desc().Limit(math.MaxInt),
			query.All[QItem]().Scan().Limit(math.MaxInt),
		} {
			p, err := m.Page(ctx, q, "")
			if err != nil {
				t.Fatalf("Page(%s): %v", q, err)
			}
			var got []string
			for _, e := range p.Items {
				got = append(got, e.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) || p.Next != "" {
				t.Errorf("Page(%s): %v, next %q; want %v and no next page", q, got, p.Next, want)
			}
			got = got[:0]
			for id, err := range m.FindIDs(ctx, q) {
				if err != nil {
					t.Fatalf("FindIDs(%s): %v", q, err)
				}
				got = append(got, id)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("FindIDs(%s): %v; want %v", q, got, want)
			}
			n := 0
			for _, err := range m.Find(ctx, q) {
				if err != nil {
					t.Fatalf("Find(%s): %v", q, err)
				}
				n++
			}
			if n != len(want) {
				t.Errorf("Find(%s): %d models; want %d", q, n, len(want))
			}
		}
	})
}

// TestARecordPastItsLongestLifetimeIsRefusedByTheModel: a batch record
// lifetime past some 194 years (math.MaxInt64 among them) is refused with
// ErrInvalid naming Record, by New as a model's default and by Exec, Update
// and Lock as a call's, before anything is sent: no round trip, no key
// written. It was taken, and wrapped around in the client's count of a
// pooled record key's lifetime. On every tier.
func TestARecordPastItsLongestLifetimeIsRefusedByTheModel(t *testing.T) {
	bal := lens.Of(func(a *Account) *int { return &a.Balance })
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "rec"})
		if err := m.Save(ctx, "a", Account{Balance: 5}); err != nil {
			t.Fatal(err)
		}
		was := len(keysOf(t, b))
		trips := testenv.CountRoundTrips(b.Client)
		want := func(how string, d time.Duration, err error) {
			t.Helper()
			if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), ".Exec.Record") {
				t.Errorf("%s with Record %v: %v; want ErrInvalid naming Exec.Record", how, d, err)
			}
		}
		for i, d := range []time.Duration{math.MaxInt64, math.MaxInt64 / 3 * 2, 6_148_914_691_236*time.Millisecond + 1} {
			_, err := rapyer.New[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "rec" + strconv.Itoa(i), Exec: tx.Options{Record: d}})
			want("New", d, err)
			_, err = m.Exec(ctx, "a", tx.Of(ops.Incr(bal, 1)), rapyer.WithRecord(d))
			want("Exec", d, err)
			_, err = m.Update(ctx, "a", func(Account) (tx.Batch, error) { return tx.Of(ops.Incr(bal, 1)), nil }, rapyer.WithRecord(d))
			want("Update", d, err)
			_, err = m.Lock(ctx, "a", "w", func(context.Context, *Account) error { return nil }, rapyer.WithRecord(d))
			want("Lock", d, err)
		}
		if n := trips.Count(); n != 0 {
			t.Errorf("refused calls sent %s", trips)
		}
		if n := len(keysOf(t, b)); n != was {
			t.Errorf("%d keys under the prefix, were %d; want none written", n, was)
		}
		if a, err := m.Get(ctx, "a"); err != nil || a.Balance != 5 {
			t.Errorf("a: %+v, %v; want balance 5", a, err)
		}
	})
}
