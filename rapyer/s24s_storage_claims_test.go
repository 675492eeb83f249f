package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// s24sInner is a nested struct with a collection of its own, used both
// inline and behind a pointer.
type s24sInner struct {
	City  string
	Notes []string
}

// s24sItem is a JSON element of a list.
type s24sItem struct{ A int }

// s24sDoc has a collection of every kind, at the top, in a nested struct and
// under a pointer to a struct (docs/storage.md, "Keys").
type s24sDoc struct {
	Name  string
	N     int
	Tags  []string
	Items []s24sItem
	Attrs map[string]int
	Set   map[string]struct{}
	Inner s24sInner
	Ptr   *s24sInner
}

var (
	s24sN         = lens.Of(func(d *s24sDoc) *int { return &d.N })
	s24sName      = lens.Of(func(d *s24sDoc) *string { return &d.Name })
	s24sTags      = lens.Of(func(d *s24sDoc) *[]string { return &d.Tags })
	s24sItems     = lens.Of(func(d *s24sDoc) *[]s24sItem { return &d.Items })
	s24sAttrs     = lens.Of(func(d *s24sDoc) *map[string]int { return &d.Attrs })
	s24sSet       = lens.Of(func(d *s24sDoc) *map[string]struct{} { return &d.Set })
	s24sInnerNote = lens.Of(func(d *s24sDoc) *[]string { return &d.Inner.Notes })
	s24sPtr       = lens.Of(func(d *s24sDoc) **s24sInner { return &d.Ptr })
	s24sPtrNotes  = lens.Through(s24sPtr, lens.Of(func(i *s24sInner) *[]string { return &i.Notes }))
)

// s24sFull is a model with every collection key present.
func s24sFull() s24sDoc {
	return s24sDoc{
		Name: "full", N: 7, Tags: []string{"t1", "t2"}, Items: []s24sItem{{A: 1}},
		Attrs: map[string]int{"a": 1}, Set: map[string]struct{}{"s": {}},
		Inner: s24sInner{City: "c", Notes: []string{"n"}}, Ptr: &s24sInner{City: "p", Notes: []string{"pn"}},
	}
}

// s24sWrite is one kind of write: it runs on model id (prepared as a model
// with no collection unless fresh) and returns the ids it wrote.
type s24sWrite struct {
	name  string
	fresh bool // the write creates the model: id is missing before it
	run   func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) ([]string, error)
}

func s24sExec(o ...ops.Op) func(context.Context, *rapyer.Model[s24sDoc], string) ([]string, error) {
	return func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) ([]string, error) {
		_, err := m.Exec(ctx, id, tx.Of(o...))
		return []string{id}, err
	}
}

// s24sWrites lists every kind of write that can create a collection key.
func s24sWrites() []s24sWrite {
	one := func(f func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) error) func(context.Context, *rapyer.Model[s24sDoc], string) ([]string, error) {
		return func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) ([]string, error) {
			return []string{id}, f(ctx, m, id)
		}
	}
	toFull := func(_ context.Context, v *s24sDoc) error { *v = s24sFull(); return nil }
	return append(s24sModelWrites(one, toFull), []s24sWrite{
		{"Exec Append", false, s24sExec(ops.Append(s24sTags, "a"))},
		{"Exec Prepend", false, s24sExec(ops.Prepend(s24sTags, "a"))},
		{"Exec Append JSON", false, s24sExec(ops.Append(s24sItems, s24sItem{A: 2}))},
		{"Exec SetItem", false, s24sExec(ops.SetItem(s24sAttrs, "k", 1))},
		{"Exec SetItems", false, s24sExec(ops.SetItems(s24sAttrs, map[string]int{"k": 1, "l": 2}))},
		{"Exec IncrItem", false, s24sExec(ops.IncrItem(s24sAttrs, "k", 3))},
		{"Exec Add", false, s24sExec(ops.Add(s24sSet, "x"))},
		{"Exec Append nested", false, s24sExec(ops.Append(s24sInnerNote, "x"))},
		{"Exec Append under nil pointer", false, s24sExec(ops.Append(s24sPtrNotes, "x"))},
		{"Exec Set list", false, s24sExec(ops.Set(s24sTags, []string{"x", "y"}))},
		{"Exec Set map", false, s24sExec(ops.Set(s24sAttrs, map[string]int{"x": 1}))},
		{"Exec Set pointer", false, s24sExec(ops.Set(s24sPtr, &s24sInner{Notes: []string{"x"}}))},
		{"Exec Move", false, s24sExec(ops.Append(s24sTags, "m"), ops.Move(s24sTags, ops.First, s24sInnerNote, ops.Last))},
		{"Exec Diff", false, s24sExec(ops.Diff(s24sDoc{Name: "bare"}, s24sFull()))},
		{"Exec Replace", false, s24sExec(ops.Replace(s24sFull()))},
		{"Exec CreateIfMissing", true, s24sExec(ops.CreateIfMissing(s24sDoc{Name: "new"}), ops.Append(s24sTags, "more"), ops.Add(s24sSet, "s"))},
	}...)
}

// s24sModelWrites are the writes of Model's methods.
func s24sModelWrites(
	one func(func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) error) func(context.Context, *rapyer.Model[s24sDoc], string) ([]string, error),
	toFull func(context.Context, *s24sDoc) error,
) []s24sWrite {
	return []s24sWrite{
		{"Save", false, one(func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) error {
			return m.Save(ctx, id, s24sFull())
		})},
		{"Create", true, one(func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) error {
			return m.Create(ctx, id, s24sFull())
		})},
		{"Insert", true, func(ctx context.Context, m *rapyer.Model[s24sDoc], _ string) ([]string, error) {
			id, err := m.Insert(ctx, s24sFull())
			return []string{id}, err
		}},
		{"SaveMany", false, one(func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) error {
			return m.SaveMany(ctx, []rapyer.Entry[s24sDoc]{{ID: id, Value: s24sFull()}})
		})},
		{"InsertMany", true, func(ctx context.Context, m *rapyer.Model[s24sDoc], _ string) ([]string, error) {
			return m.InsertMany(ctx, s24sFull(), s24sFull())
		}},
		{"Lock", false, one(func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) error {
			_, err := m.Lock(ctx, id, "edit", func(ctx context.Context, v *s24sDoc) error { return toFull(ctx, v) })
			return err
		})},
		{"LockAll", false, one(func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) error {
			var v s24sDoc
			_, err := rapyer.LockAll(ctx, "edit", []rapyer.Held{m.Hold(id, &v)}, func(ctx context.Context) error { return toFull(ctx, &v) })
			return err
		})},
		{"Update", false, one(func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) error {
			_, err := m.Update(ctx, id, func(v s24sDoc) (tx.Batch, error) { return tx.Of(ops.Diff(v, s24sFull())), nil })
			return err
		})},
		{"UpdateMany", false, one(func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) error {
			_, err := m.UpdateMany(ctx, []string{id}, func(vs []s24sDoc) (tx.Batch, error) {
				return tx.On(m.Target(id), ops.Diff(vs[0], s24sFull())), nil
			})
			return err
		})},
		{"Duplicate", false, func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) ([]string, error) {
			if err := m.Save(ctx, id, s24sFull()); err != nil {
				return nil, err
			}
			nid, err := m.Duplicate(ctx, id, "")
			return []string{id, nid}, err
		}},
	}
}

// s24sKeys lists every key under prefix with its PTTL, on every master.
func s24sKeys(t *testing.T, b *testenv.Backend, match string) map[string]time.Duration {
	t.Helper()
	var mu sync.Mutex
	out := map[string]time.Duration{}
	if err := eachMaster(b, func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, match, 1000).Iterator()
		for it.Next(ctx) {
			ttl := c.PTTL(ctx, it.Val()).Val()
			if ttl == -2 {
				// gone since the SCAN (a record of another test of the
				// package expiring): nothing to check
				continue
			}
			mu.Lock()
			out[it.Val()] = ttl
			mu.Unlock()
		}
		return it.Err()
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// s24sCheckModel checks what docs/storage.md promises of the keys of
// model root: none without the root, every key (locks aside) with a TTL
// exactly when the root has one, lock keys always with one.
func s24sCheckModel(t *testing.T, what, root string, all map[string]time.Duration) {
	t.Helper()
	rootTTL, hasRoot := all[root]
	for k, d := range all {
		if k != root && !strings.HasPrefix(k, root+":") {
			continue
		}
		switch {
		case strings.HasPrefix(k[len(root):], ":lock:"):
			if d <= 0 {
				t.Errorf("%s: lock key %s has PTTL %v, want a TTL", what, k, d)
			}
		case !hasRoot:
			t.Errorf("%s: key %s (PTTL %v) without its root", what, k, d)
		case (rootTTL > 0) != (d > 0):
			t.Errorf("%s: key %s has PTTL %v, its root %v", what, k, d, rootTTL)
		}
	}
}

// s24sCheckRecords checks that every batch record has a TTL.
func s24sCheckRecords(t *testing.T, b *testenv.Backend, what string) {
	t.Helper()
	for k, d := range s24sKeys(t, b, "tx{*") {
		// PTTL 0: another test's record in its last millisecond (the
		// cluster is the package's); -1 (no TTL) is what must not be
		if d < 0 {
			t.Errorf("%s: record %s has PTTL %v, want a TTL", what, k, d)
		}
	}
}

// s24sModes are the lifetimes a model can have before a write: the type's
// Options.TTL, a TTL set by Expire on a type without one, and a TTL type's
// model made persistent.
var s24sModes = []struct {
	name    string
	ttl     time.Duration
	prepare func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) error
}{
	{"options", time.Hour, nil},
	{"expire", 0, func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) error {
		return m.Expire(ctx, id, time.Hour)
	}},
	{"persist", time.Hour, func(ctx context.Context, m *rapyer.Model[s24sDoc], id string) error { return m.Persist(ctx, id) }},
}

// TestS24sEveryWriteKeepsTheTTLOnEveryKey: "with Options.TTL every key of
// the model gets that TTL", "keys created later get the model's", "Field ops
// keep it": after every kind of write, each key of the model (collections
// at the top, nested, under a pointer; the copy of Duplicate) has a TTL
// exactly when its root has one, no key is left without its root, and
// Delete then leaves no key of the model but lock keys with a TTL.
func TestS24sEveryWriteKeepsTheTTLOnEveryKey(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for _, mode := range s24sModes {
			m := rapyer.MustNew[s24sDoc](b.Client, rapyer.Options{Prefix: b.Prefix + "doc" + mode.name, TTL: mode.ttl})
			for i, w := range s24sWrites() {
				id := fmt.Sprintf("id:%d:%s", i, mode.name)
				what := mode.name + "/" + w.name
				if !w.fresh {
					if err := m.Save(ctx, id, s24sDoc{Name: "bare"}); err != nil {
						t.Fatal(err)
					}
					if mode.prepare != nil {
						if err := mode.prepare(ctx, m, id); err != nil {
							t.Fatal(err)
						}
					}
				}
				ids, err := w.run(ctx, m, id)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				all := s24sKeys(t, b, m.Prefix()+":*")
				for _, wid := range ids {
					root, _ := m.Key(wid)
					s24sCheckModel(t, what, root, all)
					if n := s24sCollectionKeys(root, all); n == 0 {
						t.Errorf("%s: wrote no collection key of %s", what, wid)
					}
					if ok, err := m.Delete(ctx, wid); !ok || err != nil {
						t.Fatalf("%s: Delete: %v, %v", what, ok, err)
					}
				}
				all = s24sKeys(t, b, m.Prefix()+":*")
				for _, wid := range ids {
					root, _ := m.Key(wid)
					for k, d := range all {
						if strings.HasPrefix(k, root) && !(strings.HasPrefix(k[len(root):], ":lock:") && d > 0) {
							t.Errorf("%s: Delete left %s (PTTL %v)", what, k, d)
						}
					}
				}
			}
		}
		s24sCheckRecords(t, b, "after every write")
	})
}

// s24sCollectionKeys counts the keys of model root other than the root and
// its locks.
func s24sCollectionKeys(root string, all map[string]time.Duration) int {
	n := 0
	for k := range all {
		if strings.HasPrefix(k, root+":") && !strings.HasPrefix(k[len(root):], ":lock:") {
			n++
		}
	}
	return n
}

// s24sOddIDs are ids a caller may give: separators, glob characters, the
// names of the layout's own suffixes, long and non-ASCII ones.
var s24sOddIDs = []string{"a:b", "x:lock:edit", "@ids", "@back", "*", "?[x]", "sp ace", "ü€", "tags", strings.Repeat("L", 300)}

// TestS24sDeleteLeavesNoIndexEntry: Delete and DeleteMany remove every key
// of an indexed model and its entries in @ids, @back, @exp and every @i:
// zset, whatever write made it and whatever its id; a model that expired
// leaves only its entries, which its Delete removes ("Keys without their
// root"). Sweep of a type whose models are whole finds nothing.
func TestS24sDeleteLeavesNoIndexEntry(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for _, ttl := range []time.Duration{0, time.Hour} {
			m := rapyer.MustNew[s24sDoc](b.Client, rapyer.Options{Prefix: fmt.Sprintf("%six%d", b.Prefix, ttl), TTL: ttl, Groups: 4,
				Indexes: []index.Spec{index.On(s24sN), index.Prefix(s24sName), index.Members(s24sTags)}})
			var ids []string
			for i, w := range s24sWrites() {
				id := s24sOddIDs[i%len(s24sOddIDs)] + fmt.Sprint(i)
				if !w.fresh {
					if err := m.Save(ctx, id, s24sDoc{Name: "bare", Tags: []string{"b"}}); err != nil {
						t.Fatal(err)
					}
				}
				got, err := w.run(ctx, m, id)
				if err != nil {
					t.Fatalf("%v %s: %v", ttl, w.name, err)
				}
				ids = append(ids, got...)
			}
			all := s24sKeys(t, b, m.Prefix()+":*")
			for _, id := range ids {
				root, _ := m.Key(id)
				s24sCheckModel(t, "indexed", root, all)
			}
			if swept, err := m.Sweep(ctx); err != nil || len(swept) != 0 {
				t.Errorf("Sweep of whole models: %v, %v", swept, err)
			}
			half := len(ids) / 2
			for _, id := range ids[:half] {
				if ok, err := m.Delete(ctx, id); !ok || err != nil {
					t.Fatalf("Delete %q: %v, %v", id, ok, err)
				}
			}
			if gone, err := m.DeleteMany(ctx, ids[half:]...); err != nil || len(gone) != len(ids)-half {
				t.Fatalf("DeleteMany: %d of %d, %v", len(gone), len(ids)-half, err)
			}
			s24sNothingLeft(t, b, m.Prefix(), "after Delete and DeleteMany")
		}
	})
}

// s24sNothingLeft fails on any key under prefix but @meta and lock keys
// with a TTL: every model of prefix has been deleted.
func s24sNothingLeft(t *testing.T, b *testenv.Backend, prefix, what string) {
	t.Helper()
	for k, d := range s24sKeys(t, b, prefix+":*") {
		if strings.HasSuffix(k, ":@meta") || (strings.Contains(k, "}:lock:") && d > 0) {
			continue
		}
		t.Errorf("%s: %s left (PTTL %v)", what, k, d)
	}
}

// TestS24sDeleteOfAnExpiredIndexedModelClearsItsEntries: an indexed model
// that expired leaves its index entries until a purge; Delete of it
// reports it missing and removes them in the same step.
func TestS24sDeleteOfAnExpiredIndexedModelClearsItsEntries(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[s24sDoc](b.Client, rapyer.Options{Prefix: b.Prefix + "exp", TTL: 50 * time.Millisecond, Groups: 2,
			Indexes: []index.Spec{index.On(s24sN), index.Prefix(s24sName), index.Members(s24sTags)}})
		var es []rapyer.Entry[s24sDoc]
		for i, id := range s24sOddIDs {
			v := s24sFull()
			v.N = i
			es = append(es, rapyer.Entry[s24sDoc]{ID: id, Value: v})
		}
		if err := m.SaveMany(ctx, es); err != nil {
			t.Fatal(err)
		}
		if b.Kind == testenv.Mini {
			b.Mini.FastForward(100 * time.Millisecond)
			b.Mini.SetTime(time.Now().Add(time.Second))
		}
		testenv.Eventually(t, "the models expire", func() bool {
			for k := range s24sKeys(t, b, m.Prefix()+":*") {
				if strings.Contains(k, ":{"+m.Prefix()+"#") && strings.HasSuffix(k, "}") && strings.Count(k, "{") == 2 {
					return false
				}
			}
			return true
		})
		for _, e := range es {
			if ok, err := m.Delete(ctx, e.ID); ok || err != nil {
				t.Fatalf("Delete of expired %q: %v, %v", e.ID, ok, err)
			}
		}
		s24sNothingLeft(t, b, m.Prefix(), "after Delete of expired models")
	})
}

// s24sFailed is a call that must fail with err and leave every key as it was.
type s24sFailed struct {
	name string
	want error
	run  func(ctx context.Context, m *rapyer.Model[s24sDoc]) error
}

func s24sFailedCalls() []s24sFailed {
	exec := func(id string, o ...ops.Op) func(context.Context, *rapyer.Model[s24sDoc]) error {
		return func(ctx context.Context, m *rapyer.Model[s24sDoc]) error {
			_, err := m.Exec(ctx, id, tx.Of(o...))
			return err
		}
	}
	full := func(_ context.Context, v *s24sDoc) error { *v = s24sFull(); return nil }
	return []s24sFailed{
		{"Exec on a missing model", rapyer.ErrNotFound, exec("gone", ops.Append(s24sTags, "x"), ops.Add(s24sSet, "s"))},
		{"Exec under a failed guard", rapyer.ErrPrecondition, exec("bare", ops.Append(s24sTags, "x"), ops.VersionIs[s24sDoc](1))},
		{"Exec with a bad op", rapyer.ErrInvalid, exec("bare", ops.Append(s24sPtrNotes, "x"), ops.Repeat(s24sName, -1))},
		{"Create over a model", rapyer.ErrExists, func(ctx context.Context, m *rapyer.Model[s24sDoc]) error { return m.Create(ctx, "bare", s24sFull()) }},
		{"Save of a bad id", rapyer.ErrInvalidID, func(ctx context.Context, m *rapyer.Model[s24sDoc]) error { return m.Save(ctx, "a{b}", s24sFull()) }},
		{"Lock of a missing model", rapyer.ErrNotFound, func(ctx context.Context, m *rapyer.Model[s24sDoc]) error {
			_, err := m.Lock(ctx, "gone", "edit", func(ctx context.Context, v *s24sDoc) error { return full(ctx, v) })
			return err
		}},
		{"Update of a missing model", rapyer.ErrNotFound, func(ctx context.Context, m *rapyer.Model[s24sDoc]) error {
			_, err := m.Update(ctx, "gone", func(v s24sDoc) (tx.Batch, error) { return tx.Of(ops.Diff(v, s24sFull())), nil })
			return err
		}},
		{"Duplicate of a missing model", rapyer.ErrNotFound, func(ctx context.Context, m *rapyer.Model[s24sDoc]) error {
			_, err := m.Duplicate(ctx, "gone", "copy")
			return err
		}},
		{"Duplicate onto a model", rapyer.ErrExists, func(ctx context.Context, m *rapyer.Model[s24sDoc]) error {
			_, err := m.Duplicate(ctx, "bare", "other")
			return err
		}},
		{"Expire of a missing model", rapyer.ErrNotFound, func(ctx context.Context, m *rapyer.Model[s24sDoc]) error { return m.Expire(ctx, "gone", time.Hour) }},
		{"Persist of a missing model", rapyer.ErrNotFound, func(ctx context.Context, m *rapyer.Model[s24sDoc]) error { return m.Persist(ctx, "gone") }},
	}
}

// TestS24sFailedCallsLeaveNoKey: a call that fails writes nothing: no key
// of a missing model is created (no lasting key, lock keys and fences
// aside, which have a TTL), no key of an existing model changes its
// lifetime, and every batch record has a TTL.
func TestS24sFailedCallsLeaveNoKey(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for _, ttl := range []time.Duration{0, time.Hour} {
			m := rapyer.MustNew[s24sDoc](b.Client, rapyer.Options{Prefix: fmt.Sprintf("%sf%d", b.Prefix, ttl), TTL: ttl})
			for _, id := range []string{"bare", "other"} {
				if err := m.Save(ctx, id, s24sDoc{Name: "bare"}); err != nil {
					t.Fatal(err)
				}
			}
			before := s24sLasting(t, b, m.Prefix())
			for _, c := range s24sFailedCalls() {
				if err := c.run(ctx, m); !errors.Is(err, c.want) {
					t.Errorf("%v %s: %v, want %v", ttl, c.name, err, c.want)
				}
				if after := s24sLasting(t, b, m.Prefix()); !maps.Equal(before, after) {
					t.Errorf("%v %s: keys %v, were %v", ttl, c.name, after, before)
				}
			}
		}
		s24sCheckRecords(t, b, "after failed calls")
	})
}

// s24sLasting lists the keys under prefix without a TTL, and whether the
// others have one, lock keys aside.
func s24sLasting(t *testing.T, b *testenv.Backend, prefix string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for k, d := range s24sKeys(t, b, prefix+":*") {
		if strings.Contains(k, "}:lock:") && d > 0 {
			continue
		}
		out[k] = d > 0
	}
	return out
}

// TestS24sSweepClearsRootlessModelsOfOddIDs: Sweep finds a model whose root
// is gone by its collection keys (nested and under a pointer too), whatever
// its id, returns its root and leaves no key of it; live models, their
// collections and their locks stay.
func TestS24sSweepClearsRootlessModelsOfOddIDs(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[s24sDoc](b.Client, rapyer.Options{Prefix: b.Prefix + "sw"})
		want := map[string]bool{}
		for i, id := range s24sOddIDs {
			if err := m.Save(ctx, id, s24sFull()); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Lock(ctx, id, "edit", func(context.Context, *s24sDoc) error { return nil }); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				root, _ := m.Key(id)
				b.Client.Del(ctx, root)
				want[root] = true
			}
		}
		live := s24sLasting(t, b, m.Prefix())
		swept, err := m.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, k := range swept {
			got[k] = true
		}
		if !maps.Equal(got, want) {
			t.Errorf("Sweep returned %v, want %v", swept, want)
		}
		for k := range live {
			root := k[:strings.Index(k, "}")+1]
			if _, err := b.Client.Exists(ctx, k).Result(); err != nil {
				t.Fatal(err)
			}
			if n := b.Client.Exists(ctx, k).Val(); want[root] == (n == 1) {
				t.Errorf("after Sweep %s exists: %v (its model swept: %v)", k, n == 1, want[root])
			}
		}
	})
}

// TestS24sEmptiedCollectionsLeaveNoKey: Redis keeps no empty list, hash or
// set, and a write that empties a collection, or drops the pointer to a
// struct holding one, leaves no key of it: only the root stays.
func TestS24sEmptiedCollectionsLeaveNoKey(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[s24sDoc](b.Client, rapyer.Options{Prefix: b.Prefix + "em", TTL: time.Hour})
		bare := s24sDoc{Name: "bare"}
		toBare := func(_ context.Context, v *s24sDoc) error { *v = bare; return nil }
		writes := map[string]func(id string) error{
			"Save": func(id string) error { return m.Save(ctx, id, bare) },
			"Exec Set": func(id string) error {
				_, err := m.Exec(ctx, id, tx.Of(ops.Set(s24sPtr, nil), ops.Set(s24sTags, nil), ops.Set(s24sItems, []s24sItem{}),
					ops.ClearItems(s24sAttrs), ops.Discard(s24sSet, "s"), ops.Set(lens.Of(func(d *s24sDoc) *s24sInner { return &d.Inner }), s24sInner{})))
				return err
			},
			"Exec Diff": func(id string) error { _, err := m.Exec(ctx, id, tx.Of(ops.Diff(s24sFull(), bare))); return err },
			"Lock": func(id string) error {
				_, err := m.Lock(ctx, id, "edit", func(ctx context.Context, v *s24sDoc) error { return toBare(ctx, v) })
				return err
			},
			"Update": func(id string) error {
				_, err := m.Update(ctx, id, func(v s24sDoc) (tx.Batch, error) { return tx.Of(ops.Diff(v, bare)), nil })
				return err
			},
		}
		for name, w := range writes {
			id := "e:" + name
			if err := m.Save(ctx, id, s24sFull()); err != nil {
				t.Fatal(err)
			}
			if err := w(id); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			root, _ := m.Key(id)
			all := s24sKeys(t, b, m.Prefix()+":*")
			s24sCheckModel(t, name, root, all)
			if n := s24sCollectionKeys(root, all); n != 0 {
				t.Errorf("%s: %d collection keys left, want none", name, n)
			}
			if got, err := m.Get(ctx, id); err != nil || got.Ptr != nil || got.Tags != nil {
				t.Errorf("%s: Get: %+v, %v", name, got, err)
			}
		}
	})
}
