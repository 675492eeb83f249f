package tx_test

import (
	"context"
	"fmt"
	"github.com/rapyer-go/rapyer/internal/shape"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Shop is the indexed model of the compiled shapes' equivalence test: an
// index of each kind (a Prefix one among them), and fields no index holds.
type Shop struct {
	Name  string
	Stock int64
	Price float64
	Open  bool
	Since time.Time
	Notes string
	Count int64
	Addr  ShopAddr
}

// ShopAddr is a nested struct: its indexed field's name has a dot.
type ShopAddr struct{ City string }

var (
	sName  = lens.Of(func(s *Shop) *string { return &s.Name })
	sStock = lens.Of(func(s *Shop) *int64 { return &s.Stock })
	sPrice = lens.Of(func(s *Shop) *float64 { return &s.Price })
	sOpen  = lens.Of(func(s *Shop) *bool { return &s.Open })
	sSince = lens.Of(func(s *Shop) *time.Time { return &s.Since })
	sNotes = lens.Of(func(s *Shop) *string { return &s.Notes })
	sCount = lens.Of(func(s *Shop) *int64 { return &s.Count })
	sCity  = lens.Of(func(s *Shop) *string { return &s.Addr.City })

	shopIndexes = []index.Spec{index.Prefix(sName), index.On(sStock), index.On(sPrice), index.On(sOpen), index.On(sSince), index.On(sCity)}
)

// randomShopOps is a batch of 1-3 ops on indexed and unindexed fields,
// with now and then a value no index takes (too long, NaN).
func randomShopOps(r *rand.Rand) []ops.Op {
	var out []ops.Op
	for range 1 + r.IntN(3) {
		switch r.IntN(12) {
		case 0, 1:
			out = append(out, ops.Incr(sStock, []int64{1, -1, 7, -100, 1 << 62}[r.IntN(5)]))
		case 2, 3:
			out = append(out, ops.Incr(sCount, 1))
		case 4:
			out = append(out, ops.Set(sName, []string{"ada", "bob", "", "x\x00y", strings.Repeat("n", 1100)}[r.IntN(5)]))
		case 5:
			out = append(out, ops.AppendText(sName, "+"))
		case 6:
			out = append(out, ops.Set(sPrice, []float64{1.5, 0, -2e300, math.Inf(1), math.NaN()}[r.IntN(5)]))
		case 7:
			out = append(out, ops.Set(sOpen, r.IntN(2) == 0))
		case 8:
			out = append(out, ops.Set(sSince, time.Date(1990+r.IntN(60), 1, 2, 3, 4, 5, r.IntN(3), time.UTC)))
		case 9:
			out = append(out, ops.Set(sNotes, "note"), ops.Set(sCity, []string{"Paris", "Oslo"}[r.IntN(2)]))
		case 10:
			out = append(out, ops.Require(is.AtLeast(sStock, int64(r.IntN(3)-1))))
		case 11:
			out = append(out, ops.Set(sStock, int64(r.IntN(5))))
		}
	}
	return out
}

// randomShop is a model to save, now and then with a value no index takes.
func randomShop(r *rand.Rand) Shop {
	return Shop{
		Name:  []string{"ada", "bob", "", strings.Repeat("n", 1100)}[r.IntN(4)],
		Stock: int64(r.IntN(7) - 3),
		Price: []float64{1.5, 0, -7, math.NaN()}[r.IntN(4)],
		Open:  r.IntN(2) == 0,
		Since: time.Date(2000+r.IntN(3), 1, 1, 0, 0, 0, 0, time.UTC),
		Notes: "saved",
		Count: int64(r.IntN(3)),
		Addr:  ShopAddr{City: []string{"Paris", ""}[r.IntN(2)]},
	}
}

// TestIndexedShapesAgreeWithTheInterpreter: random steps on the models of
// an indexed type (batches of indexed and unindexed fields, creations,
// saves and creations, TTLs, deletions, models that expire) leave the same results, errors,
// models and index keys whether the batches run on their compiled shapes
// or on the interpreter, and the index keys hold what the models give
// (ixcheck's oracle), on every tier.
func TestIndexedShapesAgreeWithTheInterpreter(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		pa, pb := b.Prefix+"shopa", b.Prefix+"shopb"
		ma := rapyer.MustNew[Shop](b.Client, rapyer.Options{Prefix: pa, Indexes: shopIndexes, Groups: 2})
		mb := rapyer.MustNew[Shop](b.Client, rapyer.Options{Prefix: pb, Indexes: shopIndexes, Groups: 2})
		oa := ixcheck.MustNew[Shop](t, b.Client, pa, 2, shopIndexes, ma.IDs)
		ob := ixcheck.MustNew[Shop](t, b.Client, pb, 2, shopIndexes, mb.IDs)
		r := rand.New(rand.NewPCG(uint64(seed), 14))
		ids := []string{"a", "b", "c", "d", "e"}
		shape.Forget() // the tests before may have filled the process's shapes
		settled0, again0 := transport.ShapeRuns()
		saves := 0 // Saves a compiled shape settled (saveix.go)
		const steps = 300
		for i := range steps {
			id := ids[r.IntN(len(ids))]
			var o []ops.Op
			opts := tx.Options{}
			step := ""
			switch k := r.IntN(23); {
			case k == 22:
				// a field the type does not have, written outside the
				// library: a Save drops it (the compiled one rewrites
				// such a root anew)
				for _, m := range []*rapyer.Model[Shop]{ma, mb} {
					if root := m.Target(id).Root(); b.Client.Exists(ctx, root).Val() == 1 {
						b.Client.HSet(ctx, root, "stray", "x")
					}
				}
				step = "stray " + id
			case k == 0:
				o = []ops.Op{ops.Expire[Shop](time.Hour)}
			case k == 1:
				o = []ops.Op{ops.Persist[Shop]()}
			case k == 2:
				o = []ops.Op{ops.Delete[Shop]()}
			case k == 3:
				// the model expires: Redis drops its root and runs no
				// script; its deadline in @exp has passed
				for _, p := range []string{pa, pb} {
					m := map[string]*rapyer.Model[Shop]{pa: ma, pb: mb}[p]
					root := m.Target(id).Root()
					if b.Client.PTTL(ctx, root).Val() > 0 {
						b.Client.Del(ctx, root)
						b.Client.ZAdd(ctx, strings.TrimSuffix(root, ":{"+id+"}")+":@exp", redis.Z{Score: 1, Member: id})
					}
				}
				step = "expire " + id
			case k >= 4 && k <= 7:
				// a Save (Create with MustBeNew): a replace of the whole model
				o = []ops.Op{ops.Replace(randomShop(r))}
				if r.IntN(3) == 0 { // a Save with Options.TTL
					o = append(o, ops.Expire[Shop](time.Hour))
				}
				opts.IfMissing = []tx.Missing{tx.FailIfMissing, tx.FailIfMissing, tx.SkipIfMissing, tx.MustBeNew}[r.IntN(4)]
				if r.IntN(4) == 0 {
					opts.Record = tx.NoRecord
				}
			default:
				o = randomShopOps(r)
				opts.IfMissing = []tx.Missing{tx.FailIfMissing, tx.FailIfMissing, tx.SkipIfMissing, tx.MustBeNew}[r.IntN(4)]
				if r.IntN(4) == 0 {
					opts.Record = tx.NoRecord
				}
			}
			if o != nil {
				step = fmt.Sprintf("%s %v %+v", id, o, opts)
				res, err := tx.ExecOnInterpreter(ctx, b.Client, tx.Of(o...).On(ma.Target(id)), opts)
				want := shopOutcome(ctx, b, ma, id, o, res, err)
				before, _ := transport.ShapeRuns()
				res, err = tx.Exec(ctx, b.Client, tx.Of(o...).On(mb.Target(id)), opts)
				if after, _ := transport.ShapeRuns(); after > before && strings.HasPrefix(fmt.Sprint(o[0]), "Replace") {
					saves++
				}
				got := strings.ReplaceAll(shopOutcome(ctx, b, mb, id, o, res, err), pb, pa)
				if got != want {
					t.Fatalf("seed %d step %d %s: compiled\n%s\ninterpreter\n%s", seed, i, step, got, want)
				}
			}
			for g := range 2 {
				want := fmt.Sprint(oa.Actual(t, g), meta(ctx, b, oa.Base(g)))
				got := strings.ReplaceAll(fmt.Sprint(ob.Actual(t, g), meta(ctx, b, ob.Base(g))), pb, pa)
				if got != want {
					t.Fatalf("seed %d step %d %s: the index keys of group %d: compiled\n%s\ninterpreter\n%s", seed, i, step, g, got, want)
				}
			}
			oa.Check(t, fmt.Sprintf("seed %d step %d %s (interpreter)", seed, i, step))
			ob.Check(t, fmt.Sprintf("seed %d step %d %s (compiled)", seed, i, step))
		}
		settled, again := transport.ShapeRuns()
		t.Logf("%d of %d steps settled on a compiled shape (%d Saves), %d left to the interpreter", settled-settled0, steps, saves, again-again0)
		if saves < 5 {
			t.Fatalf("only %d Saves ran on a compiled shape", saves)
		}
		if settled-settled0 < steps/4 {
			t.Fatalf("only %d of %d steps ran on a compiled shape", settled-settled0, steps)
		}
	})
}

// shopOutcome is what a batch did: its error or results, the model's
// stored state (its version left out) and its TTL.
func shopOutcome(ctx context.Context, b *testenv.Backend, m *rapyer.Model[Shop], id string, o []ops.Op, res *tx.Result, err error) string {
	s := fmt.Sprint("err: ", err, "\n")
	if err == nil {
		// Duplicate is left out: it says a reply was lost (a read timeout
		// on a stalled machine) and a resend was answered from the record,
		// which either path may meet; the results are the one application's.
		s += fmt.Sprintf("skipped %v\n", res.Skipped)
		for _, op := range o {
			v, _ := res.Reply(op)
			s += fmt.Sprintf("%s -> %v\n", op, v)
		}
	}
	return s + contents(ctx, b, m.Target(id))
}

// meta is the @meta hash of the group at base, sorted.
func meta(ctx context.Context, b *testenv.Backend, base string) string {
	h := b.Client.HGetAll(ctx, base+":@meta").Val()
	var out []string
	for k, v := range h {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}
