package rapyer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// s21Specs index every kind of index over ixUser: Unique (one slot group,
// so all the type's index keys are in one slot), On and Members.
var s21Specs = []index.Spec{index.Unique(ixEmail), index.On(ixAge), index.Members(ixTags)}

// s21Orphan saves id under m, then deletes its root hash by hand (as an
// eviction or an expiry of the root alone would): its collection keys and
// its index entries stay.
func s21Orphan(t *testing.T, b *testenv.Backend, m *rapyer.Model[ixUser], id string, v ixUser) {
	t.Helper()
	ctx := context.Background()
	if err := m.Save(ctx, id, v); err != nil {
		t.Fatal(err)
	}
	root, _ := m.Key(id)
	if n := b.Client.Del(ctx, root).Val(); n != 1 {
		t.Fatalf("DEL %s deleted %d keys", root, n)
	}
}

// s21Leftovers lists what is left of model id under prefix: its keys, and
// its entries in the index keys of its slot group (@back, @ids, @i, @u).
func s21Leftovers(t *testing.T, b *testenv.Backend, prefix, id string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for _, k := range scanSlotKeys(ctx, t, b, prefix+":*") {
		switch {
		case strings.Contains(k, "{"+id+"}"):
			out = append(out, k)
		case strings.HasSuffix(k, ":@back"), strings.Contains(k, ":@u:"):
			for f, v := range b.Client.HGetAll(ctx, k).Val() {
				if f == id || v == id {
					out = append(out, k+" "+f)
				}
			}
		case strings.HasSuffix(k, ":@ids"), strings.Contains(k, ":@i:"):
			for _, mem := range b.Client.ZRange(ctx, k, 0, -1).Val() {
				if strings.HasSuffix(mem, id) {
					out = append(out, k+" "+mem)
				}
			}
		}
	}
	return out
}

// s21Found is what FindIDs and Count answer for q.
func s21Found(t *testing.T, m *rapyer.Model[ixUser], q query.Query[ixUser]) ([]string, int) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for id, err := range m.FindIDs(ctx, q) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	n, err := m.Count(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids, int(n)
}

// s21OnlyKeep checks that the indexes find the model "keep" and no other:
// by its age, its tag and its email, and not by "a@x", the gone model's.
func s21OnlyKeep(t *testing.T, m *rapyer.Model[ixUser], step string) {
	t.Helper()
	for _, q := range []query.Query[ixUser]{
		query.Where(is.Equal(ixAge, 7)), query.Where(is.Member(ixTags, "t")), query.Where(is.Equal(ixEmail, "k@x")),
	} {
		if ids, n := s21Found(t, m, q); !slices.Equal(ids, []string{"keep"}) || n != 1 {
			t.Errorf("%s: %v found %q, count %d; want only keep", step, q, ids, n)
		}
	}
	if ids, n := s21Found(t, m, query.Where(is.Equal(ixEmail, "a@x"))); len(ids) != 0 || n != 0 {
		t.Errorf("%s: the gone model's email found %q, count %d", step, ids, n)
	}
}

var (
	s21Gone = ixUser{Email: "a@x", Age: 7, Tags: map[string]struct{}{"t": {}, "u": {}}}
	s21Keep = ixUser{Email: "k@x", Age: 7, Tags: map[string]struct{}{"t": {}}}
)

// TestS21DeleteClearsAModelWithoutItsRoot: a model whose root hash is gone
// (evicted, expired before its collection keys, deleted by hand) while its
// collection keys and index entries stay is missing, and Delete reports it
// so (false, no error), as before; but it now also deletes those keys and
// entries, in the same atomic step. Before, they stayed for good, and the
// index entries named a model that does not exist. On every tier, for an
// indexed type and a plain one.
func TestS21DeleteClearsAModelWithoutItsRoot(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for _, indexed := range []bool{true, false} {
			o := rapyer.Options{Prefix: b.Prefix + "s21del"}
			if indexed {
				o.Prefix, o.Indexes = b.Prefix+"s21delix", s21Specs
			}
			m := rapyer.MustNew[ixUser](b.Client, o)
			if err := m.Save(ctx, "keep", s21Keep); err != nil {
				t.Fatal(err)
			}
			s21Orphan(t, b, m, "gone1", s21Gone)
			ok, err := m.Delete(ctx, "gone1")
			if ok || err != nil {
				t.Fatalf("indexed %v: Delete of a model without its root: %v, %v; want false, nil", indexed, ok, err)
			}
			if left := s21Leftovers(t, b, o.Prefix, "gone1"); len(left) > 0 {
				t.Errorf("indexed %v: Delete left %q", indexed, left)
			}
			if got, err := m.Get(ctx, "keep"); err != nil || !cmp.Equal(s21Keep, got) {
				t.Errorf("indexed %v: keep after the Delete: %v, %+v", indexed, err, got)
			}
			if indexed {
				s21OnlyKeep(t, m, "after Delete")
			}
			// a missing model with nothing left is still false, nil
			if ok, err := m.Delete(ctx, "gone1"); ok || err != nil {
				t.Fatalf("indexed %v: Delete again: %v, %v", indexed, ok, err)
			}
		}
	})
}

// TestS21SweepClearsModelsWithoutTheirRoot: Sweep finds the models whose
// root is gone by their collection keys and, for an indexed type, by
// @back (a model with no collection key has only its index entries left),
// and clears them as Delete does, returning their roots; the live model
// stays. Before, Sweep left collection keys of a collection's name alone.
func TestS21SweepClearsModelsWithoutTheirRoot(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for _, indexed := range []bool{true, false} {
			o := rapyer.Options{Prefix: b.Prefix + "s21sw"}
			if indexed {
				o.Prefix, o.Indexes = b.Prefix+"s21swix", s21Specs
			}
			m := rapyer.MustNew[ixUser](b.Client, o)
			if err := m.Save(ctx, "keep", s21Keep); err != nil {
				t.Fatal(err)
			}
			s21Orphan(t, b, m, "gone1", s21Gone)
			want := []string{"gone1"}
			if indexed {
				// no collection key: only its index entries are left
				s21Orphan(t, b, m, "gone2", ixUser{Email: "b@x", Age: 7})
				want = append(want, "gone2")
			}
			removed, err := m.Sweep(ctx)
			if err != nil {
				t.Fatalf("indexed %v: Sweep: %v", indexed, err)
			}
			for _, id := range want {
				root, _ := m.Key(id)
				if !slices.Contains(removed, root) {
					t.Errorf("indexed %v: Sweep returned %q, without %s", indexed, removed, root)
				}
				if left := s21Leftovers(t, b, o.Prefix, id); len(left) > 0 {
					t.Errorf("indexed %v: Sweep left %q", indexed, left)
				}
			}
			if got, err := m.Get(ctx, "keep"); err != nil || !cmp.Equal(s21Keep, got) {
				t.Errorf("indexed %v: keep after the Sweep: %v, %+v", indexed, err, got)
			}
			if indexed {
				s21OnlyKeep(t, m, "after Sweep")
			}
		}
	})
}

// s21Recreate is a hook that, before the first script its client sends
// with the key root, runs do once: between Sweep's reads and its atomic
// clear of the model at root.
type s21Recreate struct {
	root string
	done atomic.Bool
	do   func()
}

func (h *s21Recreate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *s21Recreate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.before([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (h *s21Recreate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.before(cmds)
		return next(ctx, cmds)
	}
}

func (h *s21Recreate) before(cmds []redis.Cmder) {
	for _, c := range cmds {
		switch strings.ToLower(c.Name()) {
		case "fcall", "evalsha", "eval":
			if slices.Contains(c.Args(), any(h.root)) && h.done.CompareAndSwap(false, true) {
				h.do()
			}
		}
	}
}

// TestS21SweepLeavesAModelCreatedMeanwhile: a model whose root Sweep found
// missing, and that is saved again before Sweep clears it, is left alone:
// the clear checks again, in its atomic step, that the root is missing.
// (Before, Sweep cleared nothing of it, and the model stayed without its
// root: the hook never ran.)
func TestS21SweepLeavesAModelCreatedMeanwhile(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		o := rapyer.Options{Prefix: b.Prefix + "s21re", Indexes: s21Specs}
		direct := rapyer.MustNew[ixUser](b.Client, o)
		again := ixUser{Email: "a2@x", Age: 8, Tags: map[string]struct{}{"v": {}}}
		root, _ := direct.Key("gone1")
		h := &s21Recreate{root: root, do: func() {
			if err := direct.Save(ctx, "gone1", again); err != nil {
				t.Error(err)
			}
		}}
		rdb := b.NewClient(t, nil)
		rdb.AddHook(h)
		m := rapyer.MustNew[ixUser](rdb, o)
		if err := direct.Save(ctx, "keep", s21Keep); err != nil {
			t.Fatal(err)
		}
		s21Orphan(t, b, direct, "gone1", s21Gone)
		removed, err := m.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !h.done.Load() {
			t.Fatal("Sweep sent no script: it did not try to clear the model without its root")
		}
		if slices.Contains(removed, root) {
			t.Errorf("Sweep returned %q, with the model saved meanwhile", removed)
		}
		if got, err := m.Get(ctx, "gone1"); err != nil || !cmp.Equal(again, got) {
			t.Fatalf("the model saved meanwhile after the Sweep: %v, %+v; want %+v", err, got, again)
		}
		if ids, n := s21Found(t, m, query.Where(is.Member(ixTags, "v"))); !slices.Equal(ids, []string{"gone1"}) || n != 1 {
			t.Errorf("the model saved meanwhile: found %q, count %d", ids, n)
		}
	})
}

// TestS21DeleteOfLeftoversChecksBeforeItWrites: clearing a model without
// its root keeps Delete's all or nothing: a collection key of another
// Redis type fails it with ErrWrongType before the first write, and its
// index entries stay as they were.
func TestS21DeleteOfLeftoversChecksBeforeItWrites(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		o := rapyer.Options{Prefix: b.Prefix + "s21wt", Indexes: s21Specs}
		m := rapyer.MustNew[ixUser](b.Client, o)
		s21Orphan(t, b, m, "gone1", s21Gone)
		before := s21Leftovers(t, b, o.Prefix, "gone1")
		root, _ := m.Key("gone1")
		b.Client.Del(ctx, root+":tags")
		b.Client.Set(ctx, root+":tags", "text", 0)
		if ok, err := m.Delete(ctx, "gone1"); ok || !errors.Is(err, rapyer.ErrWrongType) {
			t.Fatalf("Delete over a tags key of another type: %v, %v; want ErrWrongType", ok, err)
		}
		after := s21Leftovers(t, b, o.Prefix, "gone1")
		slices.Sort(before)
		slices.Sort(after)
		if !slices.Equal(before, after) {
			t.Errorf("a failed Delete changed what was left:\nbefore %q\nafter  %q", before, after)
		}
	})
}
