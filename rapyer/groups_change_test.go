package rapyer_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

type gcItem struct{ SKU string }

var gcSKU = lens.Of(func(v *gcItem) *string { return &v.SKU })

// TestAUniqueIndexAddedToAGroupedTypeKeepsItsModels: a type indexed with
// index.On (16 slot groups) that later declares index.Unique on the same
// field would get one slot group (Groups is 1 for a type with a Unique
// index), and look for its models, stored in groups #0..#15, in group #0
// only: Get would say ErrNotFound, a query count 0 of 3. The Model with
// the Unique index is refused instead, with ErrInvalid naming the prefix
// and both counts, by every call, before it writes anything; the models
// stay readable by a Model with the old declaration.
func TestAUniqueIndexAddedToAGroupedTypeKeepsItsModels(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		p := b.Prefix + "uqgroups"
		on := rapyer.MustNew[gcItem](b.Client, rapyer.Options{Prefix: p, Indexes: []index.Spec{index.On(gcSKU)}})
		for _, id := range []string{"a", "b", "c"} {
			if err := on.Save(ctx, id, gcItem{SKU: id}); err != nil {
				t.Fatal(err)
			}
		}
		uq := rapyer.MustNew[gcItem](b.NewClient(t, nil), rapyer.Options{Prefix: p, Indexes: []index.Spec{index.Unique(gcSKU)}})
		gcRefused(t, "Reindex", uq.Reindex(ctx, nil), p, "stored in 16 slot groups", "this Model has 1")
		gcAllRefused(ctx, t, uq, p, "stored in 16 slot groups")
		gcIntact(ctx, t, b, p)
	})
}

// TestAChangeOfGroupsIsRefused: a Model whose Options.Groups is not the
// count the type's models are stored with is refused, with the count
// recorded (fewer or more groups) and without (a store written before the
// record, in more groups than the Model's: group #Groups has an @meta).
func TestAChangeOfGroupsIsRefused(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		p := b.Prefix + "chgroups"
		on := rapyer.MustNew[gcItem](b.Client, rapyer.Options{Prefix: p, Indexes: []index.Spec{index.On(gcSKU)}})
		for _, id := range []string{"a", "b", "c"} {
			if err := on.Save(ctx, id, gcItem{SKU: id}); err != nil {
				t.Fatal(err)
			}
		}
		for _, g := range []int{4, 32} {
			m := rapyer.MustNew[gcItem](b.NewClient(t, nil), rapyer.Options{Prefix: p, Groups: g, Indexes: []index.Spec{index.On(gcSKU)}})
			gcAllRefused(ctx, t, m, p, "stored in 16 slot groups")
		}
		// A store written before the record: only the @meta of the group
		// beyond the Model's range tells.
		meta := p + ":{" + p + "#0}:@meta"
		if err := b.Client.HDel(ctx, meta, "@groups").Err(); err != nil {
			t.Fatal(err)
		}
		m := rapyer.MustNew[gcItem](b.NewClient(t, nil), rapyer.Options{Prefix: p, Groups: 4, Indexes: []index.Spec{index.On(gcSKU)}})
		gcAllRefused(ctx, t, m, p, "stored in more than 4 slot groups")
		same := rapyer.MustNew[gcItem](b.NewClient(t, nil), rapyer.Options{Prefix: p, Indexes: []index.Spec{index.On(gcSKU)}})
		if _, err := same.Get(ctx, "a"); err != nil {
			t.Fatalf("Get by a Model with the stored groups, without a record: %v", err)
		}
		gcIntact(ctx, t, b, p)
	})
}

// gcAllRefused checks that every call of m that reads or writes is
// refused, and that the refused writes wrote nothing.
func gcAllRefused(ctx context.Context, t *testing.T, m *rapyer.Model[gcItem], p, stored string) {
	t.Helper()
	_, err := m.Get(ctx, "a")
	gcRefused(t, "Get", err, p, stored)
	_, err = m.Exists(ctx, "a")
	gcRefused(t, "Exists", err, p, stored)
	_, err = m.Count(ctx, query.All[gcItem]().Scan())
	gcRefused(t, "Count", err, p, stored)
	for _, err := range m.FindIDs(ctx, query.All[gcItem]()) {
		gcRefused(t, "FindIDs", err, p, stored)
	}
	gcRefused(t, "Save", m.Save(ctx, "d", gcItem{SKU: "d"}), p, stored)
	gcRefused(t, "Create", m.Create(ctx, "e", gcItem{SKU: "e"}), p, stored)
	_, err = m.Insert(ctx, gcItem{SKU: "f"})
	gcRefused(t, "Insert", err, p, stored)
	_, err = m.Delete(ctx, "a")
	gcRefused(t, "Delete", err, p, stored)
	_, err = m.Update(ctx, "b", func(gcItem) (tx.Batch, error) { return tx.Of(ops.Set(gcSKU, "x")), nil })
	gcRefused(t, "Update", err, p, stored)
	_, err = m.Lock(ctx, "c", "edit", func(context.Context, *gcItem) error { return nil })
	gcRefused(t, "Lock", err, p, stored)
	gcRefused(t, "Reindex", m.Reindex(ctx, nil), p, stored)
}

func gcRefused(t *testing.T, call string, err error, p string, want ...string) {
	t.Helper()
	if !errors.Is(err, rapyer.ErrInvalid) {
		t.Fatalf("%s by a Model of other slot groups: %v; want ErrInvalid", call, err)
	}
	for _, w := range append(want, strconv.Quote(p), "export") {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("%s: refusal %q lacks %q", call, err, w)
		}
	}
}

// gcIntact checks, with a Model of the old declaration, that the models
// a, b, c are there and unchanged, and nothing else.
func gcIntact(ctx context.Context, t *testing.T, b *testenv.Backend, p string) {
	t.Helper()
	on := rapyer.MustNew[gcItem](b.NewClient(t, nil), rapyer.Options{Prefix: p, Indexes: []index.Spec{index.On(gcSKU)}})
	for _, id := range []string{"a", "b", "c"} {
		if v, err := on.Get(ctx, id); err != nil || v.SKU != id {
			t.Errorf("Get %s by the old declaration: %+v, %v", id, v, err)
		}
	}
	if n, err := on.Count(ctx, query.All[gcItem]()); err != nil || n != 3 {
		t.Errorf("Count of every model by the old declaration: %d, %v; want 3", n, err)
	}
	if n, err := on.Count(ctx, query.All[gcItem]().Scan()); err != nil || n != 3 {
		t.Errorf("Count (scan) by the old declaration: %d, %v; want 3", n, err)
	}
}

// TestTheGroupsCheckReadsOncePerModel: a Model reads the recorded number
// of slot groups once (one HGET), on its first call; a refused Model sends
// nothing more, and a failed check is typed, writes nothing, and is
// checked again by the next call.
func TestTheGroupsCheckReadsOncePerModel(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		p := b.Prefix + "gconce"
		opts := rapyer.Options{Prefix: p, Indexes: []index.Spec{index.On(gcSKU)}}
		if err := rapyer.MustNew[gcItem](b.Client, opts).Save(ctx, "a", gcItem{SKU: "a"}); err != nil {
			t.Fatal(err)
		}
		c := b.NewClient(t, nil)
		rt := testenv.CountRoundTrips(c)
		m := rapyer.MustNew[gcItem](c, opts)
		restore := rapyer.SetGroupsCheckFail(errors.New("the check broke (a test)"))
		err := m.Save(ctx, "b", gcItem{SKU: "b"})
		restore()
		if !errors.Is(err, rapyer.ErrNotSent) || rt.Count() != 0 {
			t.Fatalf("Save with a failed check: %v after %s; want ErrNotSent, nothing sent", err, rt)
		}
		for i := range 3 {
			rt.Reset()
			if _, err := m.Get(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			want := []string{"hgetall"}
			if i == 0 {
				want = []string{"hget", "hgetall"}
			}
			if !slices.Equal(rt.Commands(), want) {
				t.Fatalf("Get #%d: %s; want %v", i, rt, want)
			}
		}
		c2 := b.NewClient(t, nil)
		rt2 := testenv.CountRoundTrips(c2)
		other := rapyer.MustNew[gcItem](c2, rapyer.Options{Prefix: p, Groups: 2, Indexes: []index.Spec{index.On(gcSKU)}})
		for i := range 3 {
			_, err := other.Get(ctx, "a")
			gcRefused(t, "Get", err, p, "stored in 16 slot groups")
			if i == 0 && !slices.Equal(rt2.Commands(), []string{"hget"}) || i > 0 && rt2.Count() != 1 {
				t.Fatalf("Get #%d of a refused Model: %s; want one HGET, once", i, rt2)
			}
		}
	})
}
