package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// ixItem has a field of every kind an index takes.
type ixItem struct {
	Name   string
	Price  float64
	Stock  int
	Level  *int8
	Tags   map[string]struct{}
	Colors []string
	Added  time.Time
	Active bool
	Wait   time.Duration
	Code   []byte
	Note   string // not indexed
}

var (
	itName   = lens.Of(func(v *ixItem) *string { return &v.Name })
	itPrice  = lens.Of(func(v *ixItem) *float64 { return &v.Price })
	itStock  = lens.Of(func(v *ixItem) *int { return &v.Stock })
	itLevel  = lens.Of(func(v *ixItem) **int8 { return &v.Level })
	itTags   = lens.Of(func(v *ixItem) *map[string]struct{} { return &v.Tags })
	itColors = lens.Of(func(v *ixItem) *[]string { return &v.Colors })
	itAdded  = lens.Of(func(v *ixItem) *time.Time { return &v.Added })
	itActive = lens.Of(func(v *ixItem) *bool { return &v.Active })
	itWait   = lens.Of(func(v *ixItem) *time.Duration { return &v.Wait })
	itCode   = lens.Of(func(v *ixItem) *[]byte { return &v.Code })
	itNote   = lens.Of(func(v *ixItem) *string { return &v.Note })
)

// ixIndexes are ixItem's indexes, and the stored name, kind and collection
// of each, for the oracle.
var ixIndexes = []index.Spec{index.Prefix(itName), index.On(itPrice), index.On(itStock), index.On(itLevel),
	index.Members(itTags), index.Members(itColors), index.On(itAdded), index.On(itActive), index.On(itWait), index.On(itCode)}

type ixSpec struct{ name, kind, coll string }

var ixSpecs = []ixSpec{{"name", "s", ""}, {"price", "f", ""}, {"stock", "i", ""}, {"level", "i", ""}, {"tags", "s", "set"},
	{"colors", "s", "list"}, {"added", "t", ""}, {"active", "b", ""}, {"wait", "i", ""}, {"code", "s", ""}}

func ixRandomItem(r *rand.Rand) ixItem {
	words := []string{"", "a", "ab", "b", "a\x00b", "\xff", "red", "blue", "zz"}
	v := ixItem{
		Name:   words[r.IntN(len(words))] + fmt.Sprint(r.IntN(3)),
		Price:  []float64{0, -1.5, 2.25, 1e300, -1e-300, 3}[r.IntN(6)],
		Stock:  r.IntN(20) - 10,
		Added:  time.Unix(r.Int64N(2_000_000_000)-1_000_000_000, r.Int64N(1e9)).UTC(),
		Active: r.IntN(2) == 0,
		Wait:   time.Duration(r.Int64N(1e12) - 5e11),
		Note:   "n",
	}
	if r.IntN(2) == 0 {
		l := int8(r.IntN(256) - 128)
		v.Level = &l
	}
	if r.IntN(3) > 0 {
		v.Code = []byte{byte(r.IntN(3)), 0, byte(r.IntN(256))}
	}
	for range r.IntN(4) {
		if v.Tags == nil {
			v.Tags = map[string]struct{}{}
		}
		v.Tags[words[r.IntN(len(words))]] = struct{}{}
	}
	for range r.IntN(4) {
		v.Colors = append(v.Colors, words[r.IntN(len(words))])
	}
	return v
}

// ixModel is a test's model of ixItem under b's prefix and name, in groups
// groups, its index oracle, and the test's random source (stream of seed).
func ixModel(t *testing.T, b *testenv.Backend, name string, groups int, seed, stream uint64) (*rapyer.Model[ixItem], ixcheck.Oracle, *rand.Rand) {
	prefix := b.Prefix + name
	m, err := rapyer.New[ixItem](b.Client, rapyer.Options{Prefix: prefix, Indexes: ixIndexes, Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	return m, ixcheck.MustNew[ixItem](t, b.Client, prefix, groups, ixIndexes, m.IDs), rand.New(rand.NewPCG(seed, stream))
}

// TestIndexesFollowEveryWritePath: after each of a seeded random run of
// writes by every write path (Save, Create, Insert, Exec with scalar,
// set and list ops, Update, Delete, DeleteMany, SaveMany, InsertMany,
// Expire, Persist, Duplicate, CreateIfMissing, a lock's save), the index
// keys hold exactly what the stored models give.
func TestIndexesFollowEveryWritePath(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, o, r := ixModel(t, b, "it", 3, seed, 1)
		ids := []string{"a", "b", "c", "d", "e", "f"}
		pick := func() string { return ids[r.IntN(len(ids))] }
		for step := range 120 {
			what, err := ixStep(ctx, t, b, m, r, pick)
			if err != nil && !ixExpected(err) {
				t.Fatalf("step %d (%s): %v", step, what, err)
			}
			o.Check(t, fmt.Sprintf("step %d (%s)", step, what))
		}
	})
}

// ixExpected: the errors a random step may meet by design.
func ixExpected(err error) bool {
	return errors.Is(err, rapyer.ErrNotFound) || errors.Is(err, rapyer.ErrExists) || errors.Is(err, rapyer.ErrEmpty) ||
		errors.Is(err, rapyer.ErrCrossSlot)
}

// ixStep makes one random write.
func ixStep(ctx context.Context, t *testing.T, b *testenv.Backend, m *rapyer.Model[ixItem], r *rand.Rand, pick func() string) (string, error) {
	id := pick()
	switch r.IntN(15) {
	case 13:
		_, err := m.Exec(ctx, id, tx.Of(ops.Set(itNote, fmt.Sprint(r.IntN(9)))))
		return "Exec of an unindexed field " + id, err
	case 0:
		return "Save " + id, m.Save(ctx, id, ixRandomItem(r))
	case 1:
		return "Create " + id, m.Create(ctx, id, ixRandomItem(r))
	case 2:
		nid, err := m.Insert(ctx, ixRandomItem(r))
		if err == nil {
			_, err = m.Delete(ctx, nid)
		}
		return "Insert and Delete", err
	case 3:
		v := ixRandomItem(r)
		_, err := m.Exec(ctx, id, tx.Of(ops.Set(itName, v.Name), ops.Incr(itStock, 3), ops.Add(itTags, "new"),
			ops.Discard(itTags, "red"), ops.Append(itColors, "blue"), ops.Set(itLevel, v.Level), ops.Set(itNote, "x")))
		return "Exec scalars and sets " + id, err
	case 4:
		_, err := m.Exec(ctx, id, tx.Of(ops.PopFirst(itColors), ops.Mul(itPrice, 2), ops.AddDuration(itAdded, time.Hour), ops.Set(itActive, true)))
		return "Exec pops and arithmetic " + id, err
	case 5:
		_, err := m.Delete(ctx, id)
		return "Delete " + id, err
	case 6:
		_, err := m.DeleteMany(ctx, id, ixOtherID(id, pick))
		return "DeleteMany", err
	case 7:
		return "SaveMany", m.SaveMany(ctx, []rapyer.Entry[ixItem]{{ID: id, Value: ixRandomItem(r)}, {ID: ixOtherID(id, pick), Value: ixRandomItem(r)}})
	case 8:
		if r.IntN(2) == 0 {
			return "Expire " + id, m.Expire(ctx, id, time.Duration(50+r.IntN(200))*time.Millisecond)
		}
		return "Persist " + id, m.Persist(ctx, id)
	case 9:
		_, err := m.Duplicate(ctx, id, ixOtherID(id, pick))
		return "Duplicate " + id, err
	case 10:
		v := ixRandomItem(r)
		v.Tags, v.Colors = nil, nil
		_, err := m.Exec(ctx, id, tx.Of(ops.CreateIfMissing(v), ops.Incr(itStock, 1), ops.Add(itTags, "c")))
		return "CreateIfMissing " + id, err
	case 11:
		_, err := m.Lock(ctx, id, "edit", func(_ context.Context, v *ixItem) error {
			v.Price++
			v.Colors = append(v.Colors, "lock")
			delete(v.Tags, "a0")
			return nil
		})
		return "Lock " + id, err
	case 12:
		_, err := m.Update(ctx, id, func(v ixItem) (tx.Batch, error) {
			return tx.Of(ops.Set(itStock, v.Stock*2), ops.Set(itCode, []byte(nil))), nil
		})
		return "Update " + id, err
	}
	if b.Kind == testenv.Mini {
		b.Mini.FastForward(100 * time.Millisecond)
	} else {
		time.Sleep(20 * time.Millisecond)
	}
	ns, err := m.InsertMany(ctx, ixRandomItem(r), ixRandomItem(r))
	if err == nil {
		_, err = m.DeleteMany(ctx, ns[0])
	}
	return "InsertMany, time passes", err
}

func ixOtherID(id string, pick func() string) string {
	for {
		if o := pick(); o != id {
			return o
		}
	}
}

// TestReindexRebuildsTheIndexes: with every index key of every group gone,
// the reindex entry run over the ids of each group brings them back to
// what the stored models give; run again, it changes nothing.
func TestReindexRebuildsTheIndexes(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, o, r := ixModel(t, b, "rx", 2, seed, 2)
		var ids [2][]string
		for i := range 30 {
			id := fmt.Sprint("m", i)
			if err := m.Save(ctx, id, ixRandomItem(r)); err != nil {
				t.Fatal(err)
			}
			g := ixGroup(id, 2)
			ids[g] = append(ids[g], id)
		}
		o.Check(t, "saved")
		for g := range 2 {
			base := o.Base(g)
			var ks []string
			for k := range o.Actual(t, g) {
				ks = append(ks, k)
			}
			if err := b.Client.Del(ctx, ks...).Err(); err != nil {
				t.Fatal(err)
			}
			args := []any{len(ixSpecs)}
			for _, s := range ixSpecs {
				args = append(args, s.name, s.kind, "o", s.coll)
			}
			for _, id := range ids[g] {
				args = append(args, id)
			}
			for range 2 {
				n, err := lua.Reindex.Run(ctx, b.Client, script.Command([]string{base + ":@ids", base + ":@back", base + ":@exp"}, args...)).Int()
				if err != nil || n != len(ids[g]) {
					t.Fatalf("reindex: %d, %v", n, err)
				}
			}
		}
		o.Check(t, "reindexed")
	})
}
