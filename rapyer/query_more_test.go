package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

func saveItems(t *testing.T, m *rapyer.Model[QItem], n int, f func(i int) QItem) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("it%03d", i)
		if err := m.Save(context.Background(), id, f(i)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// expireFirst gives the models it000 .. it<n-1> a TTL of 50ms and lets it
// pass: on miniredis by moving its clock, elsewhere by waiting past it.
func expireFirst(t *testing.T, b *testenv.Backend, m *rapyer.Model[QItem], n int) {
	t.Helper()
	for i := range n {
		if err := m.Expire(context.Background(), fmt.Sprintf("it%03d", i), 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if b.Mini != nil {
		// the keys' TTLs and the server's clock (TIME, which the
		// deadlines in @exp follow) move on together
		b.Mini.SetTime(time.Now().Add(time.Second))
		b.Mini.FastForward(time.Second)
	} else {
		time.Sleep(200 * time.Millisecond)
	}
}

// saveRandom stores n random items it000 .. it<n-1> and returns them by id.
func saveRandom(t *testing.T, m *rapyer.Model[QItem], r *rand.Rand, n int) map[string]QItem {
	t.Helper()
	stored := map[string]QItem{}
	for i := range n {
		id := fmt.Sprintf("it%03d", i)
		it := randomItem(r)
		if err := m.Save(context.Background(), id, it); err != nil {
			t.Fatal(err)
		}
		stored[id] = it
	}
	return stored
}

// TestPagingReturnsAnUnchangedModelExactlyOnce: while a caller pages
// through, other models are created, changed and deleted; every model that
// matched and was not touched comes exactly once, in order.
func TestPagingReturnsAnUnchangedModelExactlyOnce(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		seed := testenv.Seed(t)
		r := rand.New(rand.NewPCG(uint64(seed), 2))
		ctx := context.Background()
		m := newItems(t, b, "paging", rapyer.Options{Groups: 5})
		ids := saveItems(t, m, 60, func(i int) QItem { return QItem{Status: "new", Price: i % 13} })
		touched := map[string]bool{}
		extra := 0
		between := func() {
			for range 3 {
				switch id := pick(r, ids); r.IntN(3) {
				case 0:
					touched[id] = true
					if _, err := m.Exec(ctx, id, tx.Of(ops.Incr(iPrice, r.IntN(5)-2)), rapyer.SkipIfMissing()); err != nil {
						t.Fatal(err)
					}
				case 1:
					touched[id] = true
					if _, err := m.Delete(ctx, id); err != nil {
						t.Fatal(err)
					}
				default:
					extra++
					if err := m.Save(ctx, fmt.Sprintf("new%03d", extra), QItem{Status: "new", Price: r.IntN(13)}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		for _, q := range []query.Query[QItem]{query.Where(is.Equal(iStatus, "new")), query.Where(is.Equal(iStatus, "new")).OrderBy(iPrice).Desc()} {
			got := pageIDs(t, m, q.Limit(4), between)
			seen := map[string]int{}
			for _, id := range got {
				seen[id]++
			}
			for _, id := range ids {
				if !touched[id] && seen[id] != 1 {
					t.Fatalf("seed %d: %s: %s came %d times", seed, q, id, seen[id])
				}
			}
		}
	})
}

// TestQueriesRefuseWhatTheyCannotAnswer: a field without an index, a
// negation, a cursor of another query or a changed one, a tag on an untagged
// model: typed errors, before anything is read.
func TestQueriesRefuseWhatTheyCannotAnswer(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newItems(t, b, "refuse", rapyer.Options{})
		saveItems(t, m, 30, func(i int) QItem { return QItem{Status: "new", Price: i, Hidden: i%2 == 0} })
		_, err := m.Count(ctx, query.Where(is.Equal(iHidden, true)))
		if !errors.Is(err, rapyer.ErrNotIndexed) || !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), "hidden") {
			t.Errorf("a field without an index: %v", err)
		}
		if n, err := m.Count(ctx, query.Where(is.Equal(iHidden, true)).Scan()); err != nil || n != 15 {
			t.Errorf("with Scan: %d, %v", n, err)
		}
		if _, err := m.Count(ctx, query.Where(is.Not(is.Equal(iStatus, "new")))); !errors.Is(err, rapyer.ErrNotIndexed) {
			t.Errorf("a negation: %v", err)
		}
		q := query.Where(is.AtLeast(iPrice, 3)).Limit(5)
		p, err := m.Page(ctx, q, "")
		if err != nil || p.Next == "" || len(p.Items) != 5 {
			t.Fatalf("%+v, %v", p, err)
		}
		for _, c := range []struct {
			q      query.Query[QItem]
			cursor string
		}{
			{query.Where(is.AtLeast(iPrice, 4)).Limit(5), p.Next},
			{q.OrderBy(iPrice), p.Next},
			{q, p.Next[:len(p.Next)-2] + "AA"},
			{q, "garbage"},
		} {
			if _, err := m.Page(ctx, c.q, c.cursor); !errors.Is(err, rapyer.ErrBadCursor) || !errors.Is(err, rapyer.ErrInvalid) {
				t.Errorf("%s with %q: %v", c.q, c.cursor, err)
			}
		}
		if _, err := m.Count(ctx, q.Tag("x")); !errors.Is(err, rapyer.ErrInvalid) {
			t.Errorf("a tag on an untagged model: %v", err)
		}
		plain := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: b.Prefix + "plain"})
		if _, err := plain.Count(ctx, query.All[QItem]()); !errors.Is(err, rapyer.ErrNotIndexed) {
			t.Errorf("a model without indexes: %v", err)
		}
	})
}

// TestDeleteWhereRequiresThePredicateAgain deletes what matches, and
// counts only what it deleted.
func TestDeleteWhereRequiresThePredicateAgain(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newItems(t, b, "delwhere", rapyer.Options{})
		saveItems(t, m, 20, func(i int) QItem { return QItem{Status: []string{"new", "sold"}[i%2], Price: i} })
		n, err := m.DeleteWhere(ctx, query.Where(is.And(is.Equal(iStatus, "sold"), is.Below(iPrice, 10))))
		if err != nil || n != 5 {
			t.Fatalf("%d, %v", n, err)
		}
		left, err := m.Count(ctx, query.All[QItem]())
		if err != nil || left != 15 {
			t.Fatalf("%d left, %v", left, err)
		}
		if c, _ := m.Count(ctx, query.Where(is.Equal(iStatus, "sold"))); c != 5 {
			t.Fatalf("%d sold left", c)
		}
	})
}

// TestAModelThatExpiredNeverComesBack: models with a TTL die without a
// script; no query returns them, counts agree, and their entries go.
func TestAModelThatExpiredNeverComesBack(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newItems(t, b, "expiry", rapyer.Options{Groups: 2})
		saveItems(t, m, 10, func(i int) QItem { return QItem{Status: "new", Price: i} })
		expireFirst(t, b, m, 4)
		q := query.Where(is.Equal(iStatus, "new"))
		got := findIDs(t, m, q)
		want := []string{"it004", "it005", "it006", "it007", "it008", "it009"}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("%v, want %v", got, want)
		}
		for _, q := range []query.Query[QItem]{q, query.All[QItem](), query.Where(is.Below(iPrice, 5))} {
			want := 6
			if strings.Contains(q.String(), "Below") {
				want = 1
			}
			if n, err := m.Count(ctx, q); err != nil || n != want {
				t.Errorf("%s: Count %d, %v; want %d", q, n, err, want)
			}
		}
	})
}

// TestAQueryTakesOneRoundTripPerServer: a page of a query asks every slot
// group in one pipeline: one round trip to a single server, one per master
// on a cluster; on a single server it is one call for every group.
func TestAQueryTakesOneRoundTripPerServer(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		c := b.NewClient(t, nil)
		m, err := rapyer.New[QItem](c, rapyer.Options{Prefix: b.Prefix + "trips", Indexes: itemIndexes})
		if err != nil {
			t.Fatal(err)
		}
		saveItems(t, m, 40, func(i int) QItem { return QItem{Status: "new", Price: i} })
		q := query.Where(is.Equal(iStatus, "new")).OrderBy(iPrice).Limit(10)
		if _, err := m.Page(ctx, q, ""); err != nil {
			t.Fatal(err)
		}
		rt := testenv.CountRoundTrips(c)
		p, err := m.Page(ctx, q, "")
		if err != nil || len(p.Items) != 10 {
			t.Fatalf("%+v, %v", p, err)
		}
		if want := int64(len(b.Addrs)); b.Kind == testenv.Mini {
			want = 1
			if rt.Count() != want {
				t.Fatalf("%d round trips, want %d: %s", rt.Count(), want, rt)
			}
		} else if rt.Count() > want {
			t.Fatalf("%d round trips, want at most %d (one per master): %s", rt.Count(), want, rt)
		}
		// one server, not a cluster: one call for the 16 groups; a
		// cluster: one call a group
		cmds := len(rt.Commands())
		if want := 16; b.Kind != testenv.Cluster {
			if cmds != 1 {
				t.Fatalf("%d commands, want one call for every group: %s", cmds, rt)
			}
		} else if cmds != want {
			t.Fatalf("%d commands, want %d (one a group): %s", cmds, want, rt)
		}
	})
}

type qShipping struct{ City string }

type qParcel struct {
	Ship  *qShipping
	Count int
}

var qCity = lens.Of(func(p *qParcel) *string {
	if p.Ship == nil {
		p.Ship = &qShipping{}
	}
	return &p.Ship.City
})

// TestAnAbsentFieldIsFoundAsItsZero: a field the stored hash lacks (the
// fields of a nil *struct) counts as its zero value for a predicate, and so
// for the index: a query finds the model as a guard would pass it.
func TestAnAbsentFieldIsFoundAsItsZero(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, err := rapyer.New[qParcel](b.Client, rapyer.Options{Prefix: b.Prefix + "parcel", Indexes: []index.Spec{index.On(qCity)}})
		if err != nil {
			t.Fatal(err)
		}
		for id, p := range map[string]qParcel{"a": {}, "b": {Ship: &qShipping{}}, "c": {Ship: &qShipping{City: "x"}}} {
			if err := m.Save(ctx, id, p); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for id, err := range m.FindIDs(ctx, query.Where(is.Equal(qCity, ""))) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, id)
		}
		if !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("%v, want [a b]", got)
		}
		n, err := m.Count(ctx, query.All[qParcel]().OrderBy(qCity))
		if err != nil || n != 3 {
			t.Fatalf("every model in the order: %d, %v", n, err)
		}
	})
}
