package rapyer_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// lostBackWrite is one write path of an indexed model, run on a model saved
// with Age 1 whose @back was lost: after it, the model is at age (0: gone).
type lostBackWrite struct {
	name  string
	age   int
	write func(ctx context.Context, m *rapyer.Model[ixUser], id string) error
}

var lostBackWrites = []lostBackWrite{
	{"Save", 2, func(ctx context.Context, m *rapyer.Model[ixUser], id string) error {
		return m.Save(ctx, id, ixUser{Email: id + "@y", Age: 2, Tags: map[string]struct{}{"t": {}}})
	}},
	{"Exec", 3, func(ctx context.Context, m *rapyer.Model[ixUser], id string) error {
		_, err := m.Exec(ctx, id, tx.Of(ops.Incr(ixAge, 2)))
		return err
	}},
	{"Exec of a set", 1, func(ctx context.Context, m *rapyer.Model[ixUser], id string) error {
		_, err := m.Exec(ctx, id, tx.Of(ops.Discard(ixTags, "t"), ops.Add(ixTags, "u")))
		return err
	}},
	{"Lock", 4, func(ctx context.Context, m *rapyer.Model[ixUser], id string) error {
		_, err := m.Lock(ctx, id, "w", func(_ context.Context, u *ixUser) error { u.Age = 4; return nil })
		return err
	}},
	{"Delete", 0, func(ctx context.Context, m *rapyer.Model[ixUser], id string) error {
		_, err := m.Delete(ctx, id)
		return err
	}},
}

// TestALostBackLeavesNoStaleEntry: @back (the entries each model of a group
// is indexed under) can be lost while its models stay (evicted by an
// allkeys-* policy, deleted by hand), and with it index members. A write
// of a model then removes the entries of its old values all the same, and
// adds all it has now, on every write path (compiled or not): a query
// never returns a model under a value it no longer has, and the indexes
// are what the stored models give. Before, the old entries stayed for
// good, and Find, FindIDs, Count and Page answered with models that do
// not match (Count with a deleted one).
func TestALostBackLeavesNoStaleEntry(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		specs := []index.Spec{index.On(ixAge), index.Members(ixTags)}
		for i, w := range lostBackWrites {
			prefix := fmt.Sprintf("%slb%d", b.Prefix, i) // a group of its own: @back is lost whole
			m, err := rapyer.New[ixUser](b.Client, rapyer.Options{Prefix: prefix, Indexes: specs, Groups: 1})
			if err != nil {
				t.Fatal(err)
			}
			o := ixcheck.MustNew[ixUser](t, b.Client, prefix, 1, specs, m.IDs)
			id := "m"
			if err := m.Save(ctx, id, ixUser{Email: id, Age: 1, Tags: map[string]struct{}{"t": {}}}); err != nil {
				t.Fatal(err)
			}
			// evicted: @back, and an index that lists the model
			b.Client.Del(ctx, o.Base(0)+":@back", o.Base(0)+":@i:tags")
			if err := w.write(ctx, m, id); err != nil {
				t.Fatalf("%s after @back was lost: %v", w.name, err)
			}
			lostBackFinds(t, m, w, id)
			o.Check(t, w.name+" after @back was lost")
		}
	})
}

// lostBackFinds checks that queries find the model of w by its age and tag
// now, and not by those it had.
func lostBackFinds(t *testing.T, m *rapyer.Model[ixUser], w lostBackWrite, id string) {
	t.Helper()
	ctx := context.Background()
	tag := "t"
	if w.name == "Exec of a set" {
		tag = "u"
	}
	for _, c := range []struct {
		q    query.Query[ixUser]
		want bool
	}{
		{query.Where(is.Equal(ixAge, 1)), w.age == 1},
		{query.Where(is.Equal(ixAge, w.age)), w.age != 0},
		{query.Where(is.Member(ixTags, "t")), w.age != 0 && tag == "t"},
		{query.Where(is.Member(ixTags, tag)), w.age != 0},
	} {
		var ids []string
		for got, err := range m.FindIDs(ctx, c.q) {
			if err != nil {
				t.Fatalf("%s: %v", w.name, err)
			}
			ids = append(ids, got)
		}
		n, err := m.Count(ctx, c.q)
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if slices.Contains(ids, id) != c.want || (n == 1) != c.want {
			t.Errorf("after %s, %v found %q (count %d); want %s found: %v", w.name, c.q, ids, n, id, c.want)
			return
		}
	}
}
