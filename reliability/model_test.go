package reliability_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Doc is the model of the model-based test: a scalar of each family, a
// list, a map and a set.
type Doc struct {
	N   int
	S   string
	L   []string
	M   map[string]int
	Set map[string]struct{}
}

var (
	dN   = lens.Of(func(d *Doc) *int { return &d.N })
	dS   = lens.Of(func(d *Doc) *string { return &d.S })
	dL   = lens.Of(func(d *Doc) *[]string { return &d.L })
	dM   = lens.Of(func(d *Doc) *map[string]int { return &d.M })
	dSet = lens.Of(func(d *Doc) *map[string]struct{} { return &d.Set })
)

func clone(d Doc) Doc {
	d.L = slices.Clone(d.L)
	d.M = maps.Clone(d.M)
	d.Set = maps.Clone(d.Set)
	return d
}

// ref is the in-memory model of one stored Doc.
type ref struct {
	exists  bool
	doc     Doc
	version int64
	ttl     bool
}

// bstate is what the check pass of the interpreter knows within one batch.
type bstate struct {
	initial    Doc  // guards see the data as the batch found it
	listUnsure bool // a Remove ran: list indexes can no longer be checked
	ttl        string
}

// mop is a generated op with its specification: apply changes the working
// copy and returns the yield a correct run gives, the error class of a
// failure, and whether the op writes (bumps the version).
type mop struct {
	op    ops.Op
	name  string
	apply func(w *Doc, st *bstate) (want any, fail error, writes bool)
	got   func(r *tx.Result) any
}

var word = rapid.SampledFrom([]string{"a", "b", "c", "dd"})

func pyIndex(i, n int) (int, bool) {
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

func pyClamp(i, n int) int {
	if i < 0 {
		i += n
	}
	return max(0, min(i, n))
}

func errInvalidIndex() error { return rapyer.ErrInvalid }

// genOp draws one op and its specification.
func genOp(t *rapid.T, version int64) mop {
	switch kind := rapid.IntRange(0, 26).Draw(t, "op"); kind {
	case 0:
		by := rapid.IntRange(-5, 5).Draw(t, "by")
		o := ops.Incr(dN, by)
		return mop{o, fmt.Sprint("Incr ", by), func(w *Doc, _ *bstate) (any, error, bool) { w.N += by; return w.N, nil, true },
			func(r *tx.Result) any { v, _ := o.Result(r); return v }}
	case 1:
		v := rapid.IntRange(-3, 10).Draw(t, "v")
		return mop{ops.Set(dN, v), fmt.Sprint("Set N ", v), func(w *Doc, _ *bstate) (any, error, bool) { w.N = v; return nil, nil, true }, nil}
	case 2:
		v := word.Draw(t, "s")
		return mop{ops.Set(dS, v), "Set S " + v, func(w *Doc, _ *bstate) (any, error, bool) { w.S = v; return nil, nil, true }, nil}
	case 3:
		v := word.Draw(t, "s")
		o := ops.AppendText(dS, v)
		return mop{o, "AppendText " + v, func(w *Doc, _ *bstate) (any, error, bool) { w.S += v; return w.S, nil, true },
			func(r *tx.Result) any { v, _ := o.Result(r); return v }}
	case 4:
		v := rapid.IntRange(-3, 6).Draw(t, "v")
		return mop{ops.Require(is.AtLeast(dN, v)), fmt.Sprint("AtLeast ", v), func(_ *Doc, st *bstate) (any, error, bool) {
			if st.initial.N < v {
				return nil, rapyer.ErrPrecondition, false
			}
			return nil, nil, false
		}, nil}
	case 5, 6:
		vs := rapid.SliceOfN(word, 1, 3).Draw(t, "vs")
		if kind == 5 {
			return mop{ops.Append(dL, vs...), fmt.Sprint("Append ", vs), func(w *Doc, _ *bstate) (any, error, bool) {
				w.L = append(w.L, vs...)
				return nil, nil, true
			}, nil}
		}
		return mop{ops.Prepend(dL, vs...), fmt.Sprint("Prepend ", vs), func(w *Doc, _ *bstate) (any, error, bool) {
			w.L = append(slices.Clone(vs), w.L...)
			return nil, nil, true
		}, nil}
	case 7, 8:
		first := kind == 7
		o := ops.PopLast(dL)
		if first {
			o = ops.PopFirst(dL)
		}
		return mop{o, fmt.Sprint("Pop first=", first), func(w *Doc, _ *bstate) (any, error, bool) {
			if len(w.L) == 0 {
				return [2]any{"", false}, nil, true
			}
			var v string
			if first {
				v, w.L = w.L[0], w.L[1:]
			} else {
				v, w.L = w.L[len(w.L)-1], w.L[:len(w.L)-1]
			}
			return [2]any{v, true}, nil, true
		}, func(r *tx.Result) any { v, ok, _ := o.Result(r); return [2]any{v, ok} }}
	case 9:
		i := rapid.IntRange(-3, 3).Draw(t, "i")
		o := ops.PopAt(dL, i)
		return mop{o, fmt.Sprint("PopAt ", i), func(w *Doc, st *bstate) (any, error, bool) {
			if st.listUnsure {
				return nil, errInvalidIndex(), false
			}
			j, ok := pyIndex(i, len(w.L))
			if !ok {
				return [2]any{"", false}, nil, false
			}
			v := w.L[j]
			w.L = slices.Delete(w.L, j, j+1)
			return [2]any{v, true}, nil, true
		}, func(r *tx.Result) any { v, ok, _ := o.Result(r); return [2]any{v, ok} }}
	case 10:
		i := rapid.IntRange(-3, 3).Draw(t, "i")
		v := word.Draw(t, "v")
		return mop{ops.SetAt(dL, i, v), fmt.Sprint("SetAt ", i, v), func(w *Doc, st *bstate) (any, error, bool) {
			if st.listUnsure {
				return nil, errInvalidIndex(), false
			}
			j, ok := pyIndex(i, len(w.L))
			if !ok {
				return nil, rapyer.ErrInvalid, false // rapyer.ErrOutOfRange, checked below
			}
			w.L[j] = v
			return nil, nil, true
		}, nil}
	case 11:
		i := rapid.IntRange(-3, 4).Draw(t, "i")
		v := word.Draw(t, "v")
		return mop{ops.InsertAt(dL, i, v), fmt.Sprint("Insert ", i, v), func(w *Doc, st *bstate) (any, error, bool) {
			if st.listUnsure {
				return nil, errInvalidIndex(), false
			}
			j := pyClamp(i, len(w.L))
			w.L = slices.Insert(w.L, j, v)
			return nil, nil, true
		}, nil}
	case 12:
		s := rapid.IntRange(-3, 3).Draw(t, "start")
		e := rapid.SampledFrom([]int{-2, -1, 0, 1, 2, 4, ops.End}).Draw(t, "stop")
		o := ops.RemoveRange(dL, s, e)
		return mop{o, fmt.Sprint("RemoveRange ", s, e), func(w *Doc, st *bstate) (any, error, bool) {
			if st.listUnsure {
				return nil, errInvalidIndex(), false
			}
			n := len(w.L)
			a := pyClamp(s, n)
			b := n
			if e != ops.End {
				b = pyClamp(e, n)
			}
			b = max(a, b)
			w.L = slices.Delete(w.L, a, b)
			return b - a, nil, b > a
		}, func(r *tx.Result) any { v, _ := o.Result(r); return v }}
	case 13:
		v := word.Draw(t, "v")
		o := ops.Remove(dL, v)
		return mop{o, "Remove " + v, func(w *Doc, st *bstate) (any, error, bool) {
			st.listUnsure = true
			if j := slices.Index(w.L, v); j >= 0 {
				w.L = slices.Delete(w.L, j, j+1)
				return 1, nil, true
			}
			return 0, nil, true
		}, func(r *tx.Result) any { v, _ := o.Result(r); return v }}
	case 14:
		o := ops.Len(dL)
		return mop{o, "Len L", func(w *Doc, _ *bstate) (any, error, bool) { return len(w.L), nil, false },
			func(r *tx.Result) any { v, _ := o.Result(r); return v }}
	case 15:
		return mop{ops.Clear(dL), "Clear L", func(w *Doc, st *bstate) (any, error, bool) {
			w.L = nil
			st.listUnsure = false
			return nil, nil, true
		}, nil}
	case 16:
		n := rapid.IntRange(0, 3).Draw(t, "n")
		return mop{ops.Require(is.AtLeast(is.Len(dL), n)), fmt.Sprint("Require Len >= ", n), func(_ *Doc, st *bstate) (any, error, bool) {
			if len(st.initial.L) < n {
				return nil, rapyer.ErrPrecondition, false
			}
			return nil, nil, false
		}, nil}
	case 17:
		k, v := word.Draw(t, "k"), rapid.IntRange(0, 9).Draw(t, "v")
		return mop{ops.SetItem(dM, k, v), fmt.Sprint("SetItem ", k, v), func(w *Doc, _ *bstate) (any, error, bool) {
			if w.M == nil {
				w.M = map[string]int{}
			}
			w.M[k] = v
			return nil, nil, true
		}, nil}
	case 18:
		k := word.Draw(t, "k")
		o := ops.DeleteItems(dM, k)
		return mop{o, "DeleteItems " + k, func(w *Doc, _ *bstate) (any, error, bool) {
			_, ok := w.M[k]
			delete(w.M, k)
			if ok {
				return 1, nil, true
			}
			return 0, nil, true
		}, func(r *tx.Result) any { v, _ := o.Result(r); return v }}
	case 19:
		k := word.Draw(t, "k")
		o := ops.PopItem(dM, k, -1)
		return mop{o, "PopItem " + k, func(w *Doc, _ *bstate) (any, error, bool) {
			v, ok := w.M[k]
			if !ok {
				return [2]any{-1, false}, nil, false
			}
			delete(w.M, k)
			return [2]any{v, true}, nil, true
		}, func(r *tx.Result) any { v, ok, _ := o.Result(r); return [2]any{v, ok} }}
	case 20:
		k := word.Draw(t, "k")
		o := ops.Check(is.Key(dM, k))
		return mop{o, "Check Key " + k, func(w *Doc, _ *bstate) (any, error, bool) { _, ok := w.M[k]; return ok, nil, false },
			func(r *tx.Result) any { v, _ := o.Result(r); return v }}
	case 21, 22:
		e := word.Draw(t, "e")
		add := kind == 21
		o := ops.Discard(dSet, e)
		if add {
			o = ops.Add(dSet, e)
		}
		return mop{o, fmt.Sprint("Set add=", add, " ", e), func(w *Doc, _ *bstate) (any, error, bool) {
			_, had := w.Set[e]
			if add {
				if w.Set == nil {
					w.Set = map[string]struct{}{}
				}
				w.Set[e] = struct{}{}
				return map[bool]int{true: 0, false: 1}[had], nil, true
			}
			delete(w.Set, e)
			return map[bool]int{true: 1, false: 0}[had], nil, true
		}, func(r *tx.Result) any { v, _ := o.Result(r); return v }}
	case 23:
		e := word.Draw(t, "e")
		o := ops.Check(is.Member(dSet, e))
		return mop{o, "Contains " + e, func(w *Doc, _ *bstate) (any, error, bool) { _, ok := w.Set[e]; return ok, nil, false },
			func(r *tx.Result) any { v, _ := o.Result(r); return v }}
	case 24:
		v := version + int64(rapid.IntRange(-1, 0).Draw(t, "dv"))
		return mop{ops.VersionIs[Doc](v), fmt.Sprint("VersionIs ", v), func(_ *Doc, _ *bstate) (any, error, bool) {
			if v != version {
				return nil, rapyer.ErrPrecondition, false
			}
			return nil, nil, false
		}, nil}
	case 25:
		return mop{ops.Expire[Doc](time.Hour), "Expire", func(_ *Doc, st *bstate) (any, error, bool) { st.ttl = "set"; return nil, nil, false }, nil}
	default:
		return mop{ops.Persist[Doc](), "Persist", func(_ *Doc, st *bstate) (any, error, bool) { st.ttl = "persist"; return nil, nil, false }, nil}
	}
}

func genDoc(t *rapid.T) Doc {
	d := Doc{N: rapid.IntRange(-5, 5).Draw(t, "N"), S: word.Draw(t, "S"), L: rapid.SliceOfN(word, 0, 4).Draw(t, "L")}
	for _, k := range rapid.SliceOfN(word, 0, 3).Draw(t, "M") {
		if d.M == nil {
			d.M = map[string]int{}
		}
		d.M[k] = len(k)
	}
	for _, e := range rapid.SliceOfN(word, 0, 3).Draw(t, "Set") {
		if d.Set == nil {
			d.Set = map[string]struct{}{}
		}
		d.Set[e] = struct{}{}
	}
	return d
}

// machine runs one random sequence against the library and the model.
type machine struct {
	ctx  context.Context
	b    *testenv.Backend
	m    *rapyer.Model[Doc]
	rt   *testenv.Counter
	refs map[string]*ref
	ids  []string
	// ix: the model has indexes (docIndexes); every check then compares
	// the index keys and query answers with the stored models.
	ix     *docIndexes
	oracle ixOracle
}

func (s *machine) check(t *rapid.T) {
	for _, id := range s.ids {
		r := s.refs[id]
		got, err := s.m.Get(s.ctx, id)
		if !r.exists {
			if !errors.Is(err, rapyer.ErrNotFound) {
				t.Fatalf("Get(%s) of a missing model: %+v, %v", id, got, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		if d := cmp.Diff(r.doc, got, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("model %s differs from the in-memory model (-want +got):\n%s", id, d)
		}
		// DESIGN 5.9: every key of the model has a TTL exactly when the
		// model has one.
		ks, _ := s.m.Keys(id)
		for _, k := range ks {
			ttl, err := s.b.Client.PTTL(s.ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl == -2*time.Millisecond || ttl == -2 {
				continue
			}
			if has := ttl > 0; has != r.ttl {
				t.Fatalf("key %s has TTL %v, but the model's TTL is set=%v", k, ttl, r.ttl)
			}
		}
	}
	if s.ix != nil {
		s.oracle.check(t, "after the step")
		s.checkQueries(t)
	}
	figures.steps.Add(1)
}

func (s *machine) batch(t *rapid.T) {
	id := rapid.SampledFrom(s.ids).Draw(t, "id")
	r := s.refs[id]
	skip := rapid.Bool().Draw(t, "ignoreIfDeleted")
	n := rapid.IntRange(1, 5).Draw(t, "ops")
	var mops []mop
	var list []ops.Op
	for range n {
		mo := genOp(t, r.version)
		mops = append(mops, mo)
		list = append(list, mo.op)
	}
	// The specification, op by op, as the interpreter's check pass.
	st := &bstate{initial: clone(r.doc), ttl: "keep"}
	w := clone(r.doc)
	var wantErr error
	writes := false
	wants := make([]any, len(mops))
	if !r.exists {
		if !skip {
			wantErr = rapyer.ErrNotFound
		}
	} else {
		for i, mo := range mops {
			want, fail, wr := mo.apply(&w, st)
			if fail != nil {
				wantErr = fail
				break
			}
			wants[i] = want
			writes = writes || wr
		}
		if wantErr == nil && s.duplicate(id, w.S) {
			wantErr = rapyer.ErrDuplicate
		}
	}
	var opt []rapyer.Option
	if skip {
		opt = append(opt, rapyer.SkipIfMissing())
	}
	s.rt.Reset()
	res, err := s.m.Exec(s.ctx, id, tx.Of(list...), opt...)
	if c := s.rt.Count(); c != 1 {
		t.Fatalf("DESIGN 5.1: a batch of %d ops took %d round trips: %v", n, c, s.rt.Commands())
	}
	names := make([]string, len(mops))
	for i, mo := range mops {
		names[i] = mo.name
	}
	switch {
	case wantErr == rapyer.ErrInvalid && errors.Is(err, rapyer.ErrInvalid):
	case wantErr == rapyer.ErrInvalid && errors.Is(err, rapyer.ErrOutOfRange):
	case wantErr != nil:
		if !errors.Is(err, wantErr) || wantErr != rapyer.ErrDuplicate && errors.Is(err, rapyer.ErrDuplicate) {
			t.Fatalf("batch %v on %s: got %v, want %v", names, id, err, wantErr)
		}
	case err != nil:
		t.Fatalf("batch %v on %s: %v", names, id, err)
	case !r.exists:
		if !res.Skipped {
			t.Fatalf("batch %v on missing %s was not skipped", names, id)
		}
	default:
		for i, mo := range mops {
			if mo.got == nil {
				continue
			}
			if got := mo.got(res); !cmp.Equal(got, wants[i]) {
				t.Fatalf("batch %v on %s: op %d (%s) yielded %v, want %v", names, id, i+1, mo.name, got, wants[i])
			}
		}
		r.doc = w
		if writes {
			r.version++
		}
		switch st.ttl {
		case "set":
			r.ttl = true
		case "persist":
			r.ttl = false
		}
	}
	s.check(t)
}

func (s *machine) save(t *rapid.T) {
	id := rapid.SampledFrom(s.ids).Draw(t, "id")
	d := genDoc(t)
	err := s.m.Save(s.ctx, id, d)
	if s.duplicate(id, d.S) {
		if !errors.Is(err, rapyer.ErrDuplicate) {
			t.Fatalf("Save(%s) of a taken S %q: %v, want ErrDuplicate", id, d.S, err)
		}
		s.check(t)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	r := s.refs[id]
	if !r.exists {
		// a created model's first version is the server's clock in µs
		r.version = s.storedVersion(t, id) - 1
	}
	*r = ref{exists: true, doc: clone(d), version: r.version + 1}
	s.check(t)
}

// storedVersion reads the version field of model id.
func (s *machine) storedVersion(t *rapid.T, id string) int64 {
	root, err := s.m.Key(id)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.b.Client.HGet(s.ctx, root, "__v").Int64()
	if err != nil {
		t.Fatalf("the version of %s: %v", id, err)
	}
	return v
}

func (s *machine) create(t *rapid.T) {
	id := rapid.SampledFrom(s.ids).Draw(t, "id")
	d := genDoc(t)
	err := s.m.Create(s.ctx, id, d)
	r := s.refs[id]
	if r.exists {
		if !errors.Is(err, rapyer.ErrExists) {
			t.Fatalf("Create over an existing model: %v", err)
		}
	} else if s.duplicate(id, d.S) {
		if !errors.Is(err, rapyer.ErrDuplicate) {
			t.Fatalf("Create(%s) of a taken S %q: %v, want ErrDuplicate", id, d.S, err)
		}
	} else {
		if err != nil {
			t.Fatal(err)
		}
		*r = ref{exists: true, doc: clone(d), version: s.storedVersion(t, id)}
	}
	s.check(t)
}

func (s *machine) delete(t *rapid.T) {
	id := rapid.SampledFrom(s.ids).Draw(t, "id")
	existed, err := s.m.Delete(s.ctx, id)
	if err != nil || existed != s.refs[id].exists {
		t.Fatalf("Delete(%s) = %v, %v; the model said exists=%v", id, existed, err, s.refs[id].exists)
	}
	*s.refs[id] = ref{}
	s.check(t)
}

func (s *machine) update(t *rapid.T) {
	id := rapid.SampledFrom(s.ids).Draw(t, "id")
	r := s.refs[id]
	add := word.Draw(t, "add")
	s.rt.Reset()
	res, err := s.m.Update(s.ctx, id, func(d Doc) (tx.Batch, error) {
		if diff := cmp.Diff(r.doc, d, cmpopts.EquateEmpty()); diff != "" {
			return tx.Batch{}, fmt.Errorf("decide saw a snapshot that differs from the model:\n%s", diff)
		}
		return tx.Of(ops.Set(dN, d.N*2+1), ops.Append(dL, add)), nil
	})
	if !r.exists {
		if !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("Update of a missing model: %v", err)
		}
		s.check(t)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if c := s.rt.Count(); c != 2 {
		t.Fatalf("DESIGN 5.6: an uncontended optimistic update took %d round trips in %d attempts: %v", c, res.Attempts, s.rt.Commands())
	}
	r.doc.N = r.doc.N*2 + 1
	r.doc.L = append(r.doc.L, add)
	r.version++
	s.check(t)
}

func (s *machine) ttl(t *rapid.T) {
	id := rapid.SampledFrom(s.ids).Draw(t, "id")
	r := s.refs[id]
	var err error
	set := rapid.Bool().Draw(t, "expire")
	if set {
		err = s.m.Expire(s.ctx, id, time.Hour)
	} else {
		err = s.m.Persist(s.ctx, id)
	}
	if !r.exists {
		if !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("TTL change of a missing model: %v", err)
		}
	} else {
		if err != nil {
			t.Fatal(err)
		}
		r.ttl = set
	}
	s.check(t)
}

var modelRun atomic.Int64

// TestReliabilityModel drives random sequences of atomic batches (with
// guards, yields, TTL changes and ignore-if-deleted), optimistic updates,
// saves, creates, deletes and TTL changes on two models, on every backend,
// and after every step compares what the library stored with an in-memory
// model: values, existence, yields, errors, versions (through VersionIs
// guards) and the TTL of every key. Each batch must be one round trip and
// each uncontended update two.
func TestReliabilityModel(t *testing.T) {
	setRapidFlags(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		rt := testenv.CountRoundTrips(b.Client)
		rapid.Check(t, func(rt2 *rapid.T) {
			figures.sequences.Add(1)
			ctx := context.Background()
			prefix := b.Prefix + "m" + strconv.FormatInt(modelRun.Add(1), 10)
			s := &machine{ctx: ctx, b: b, rt: rt, refs: map[string]*ref{}, ids: []string{"x", "y"},
				m: rapyer.MustNew[Doc](b.Client, rapyer.Options{Prefix: prefix})}
			s.run(rt2, map[string]func(*rapid.T){"": s.check})
		})
	})
}

// run gives every id of s an empty ref, loads the interpreter (so that
// every batch is one round trip) and repeats the actions every machine
// has, and extra.
func (s *machine) run(rt *rapid.T, extra map[string]func(*rapid.T)) {
	for _, id := range s.ids {
		s.refs[id] = &ref{}
	}
	if _, err := s.m.Exec(s.ctx, "x", tx.Of(ops.Len(dL)), rapyer.SkipIfMissing()); err != nil {
		rt.Fatal(err)
	}
	actions := map[string]func(*rapid.T){
		"batch":  s.batch,
		"save":   s.save,
		"create": s.create,
		"delete": s.delete,
		"update": s.update,
		"ttl":    s.ttl,
	}
	for name, f := range extra {
		actions[name] = f
	}
	rt.Repeat(actions)
}

// setRapidFlags bounds the model-based test for make reliability (unless
// -rapid.checks or RAPID_CHECKS says otherwise) and seeds it from
// testenv.Seed (unless -rapid.seed does).
func setRapidFlags(t *testing.T) {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["rapid.checks"] && !envSet("RAPID_CHECKS") {
		_ = flag.Set("rapid.checks", "30")
	}
	if !set["rapid.seed"] && !envSet("RAPID_SEED") {
		_ = flag.Set("rapid.seed", strconv.FormatUint(uint64(testenv.Seed(t)), 10))
	}
}

func envSet(name string) bool { _, ok := os.LookupEnv(name); return ok }
