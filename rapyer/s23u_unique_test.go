package rapyer_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// s23uProfile is held by pointer in s23uHolder; its Age has a Unique index.
type s23uProfile struct {
	Age  int
	Note string
}

// s23uHolder has an optional profile.
type s23uHolder struct {
	Name    string
	Profile *s23uProfile
}

var (
	s23uAge  = lens.Of(func(h *s23uHolder) *int { return &h.Profile.Age })
	s23uNote = lens.Of(func(h *s23uHolder) *string { return &h.Profile.Note })
	s23uProf = lens.Of(func(h *s23uHolder) **s23uProfile { return &h.Profile })
)

// s23uFind lists the ids a query for Profile.Age == age finds.
func s23uFind(t *testing.T, m *rapyer.Model[s23uHolder], age int) []string {
	t.Helper()
	var ids []string
	for id, err := range m.FindIDs(context.Background(), query.Where(is.Equal(s23uAge, age))) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// s23uAgeOf is the Profile of id as Get reads it: its age, and whether
// the profile is there.
func s23uAgeOf(t *testing.T, m *rapyer.Model[s23uHolder], id string) (int, bool) {
	t.Helper()
	v, err := m.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	if v.Profile == nil {
		return 0, false
	}
	return v.Profile.Age, true
}

// TestS23uAStructAnOpAllocatesClaimsTheZeroOfItsUniqueField: an op on
// another field of a nil *struct (ops.Set of Profile.Note) allocates the
// struct: Get then reads Profile.Age 0, present, as a Save of
// Profile{Age: 0} stores it, and the Unique index of Profile.Age holds it
// so: the op fails with ErrDuplicate while another model holds 0, and
// writes nothing; with 0 free it claims 0, and a second model is refused.
// A model without a profile still claims nothing. Before, the allocated
// struct's unstored Age claimed nothing: two models both read Age 0 from
// Get, and a query for 0 found both.
func TestS23uAStructAnOpAllocatesClaimsTheZeroOfItsUniqueField(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		opts := rapyer.Options{Prefix: b.Prefix + "s23uprof", Indexes: []index.Spec{index.Unique(s23uAge)}}
		m := rapyer.MustNew[s23uHolder](b.Client, opts)
		o := ixcheck.MustNew[s23uHolder](t, b.Client, opts.Prefix, 1, opts.Indexes, m.IDs)
		if err := m.Save(ctx, "ann", s23uHolder{Profile: &s23uProfile{}}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"bob", "cat"} {
			if err := m.Save(ctx, id, s23uHolder{Name: id}); err != nil {
				t.Fatal(err)
			}
		}
		o.Check(t, "saved")
		_, err := m.Exec(ctx, "bob", tx.Of(ops.Set(s23uNote, "b")))
		s21Dup(t, "a profile an op allocates while ann holds 0", err, "belongs to ann")
		if _, ok := s23uAgeOf(t, m, "bob"); ok {
			t.Fatal("bob has a profile after the refused op")
		}
		isNew := func(c *rapyer.Call) { c.Exec.IfMissing = tx.MustBeNew }
		_, err = m.Exec(ctx, "dan", tx.Of(ops.Set(s23uNote, "d")), isNew)
		s21Dup(t, "a new model whose profile an op allocates", err, "belongs to ann")
		o.Check(t, "refused")
		// ann lets 0 go for 1 in the batch that allocates bob's profile
		two := tx.Join(tx.On(m.Target("ann"), ops.Set(s23uAge, 1)), tx.On(m.Target("bob"), ops.Set(s23uNote, "b")))
		if _, err := tx.Exec(ctx, b.Client, two, tx.Options{}); err != nil {
			t.Fatalf("bob's profile allocated as ann lets 0 go: %v", err)
		}
		if age, ok := s23uAgeOf(t, m, "bob"); !ok || age != 0 {
			t.Fatalf("bob's age: %d, %v", age, ok)
		}
		o.Check(t, "taken")
		_, err = m.Exec(ctx, "cat", tx.Of(ops.Set(s23uNote, "c")))
		s21Dup(t, "a second allocated profile", err, "belongs to bob")
		s21Dup(t, "an explicit 0", m.Save(ctx, "eve", s23uHolder{Profile: &s23uProfile{}}), "belongs to bob")
		if got := s23uFind(t, m, 0); !slices.Equal(got, []string{"bob", "cat"}) {
			t.Fatalf("a query for age 0: %q, want bob and cat (no profile: the zero)", got)
		}
		// bob lets his profile go: 0 is free for cat's allocated one
		if _, err := m.Exec(ctx, "bob", tx.Of(ops.Set(s23uProf, (*s23uProfile)(nil)))); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Exec(ctx, "cat", tx.Of(ops.Incr(s23uAge, 0))); err != nil {
			t.Fatalf("Incr by 0 allocates cat's profile with 0 free: %v", err)
		}
		_, err = m.Exec(ctx, "bob", tx.Of(ops.Incr(s23uAge, 0)))
		s21Dup(t, "Incr by 0 of a nil profile while cat holds 0", err, "belongs to cat")
		o.Check(t, "incr")
		if err := m.Reindex(ctx, nil); err != nil {
			t.Fatal(err)
		}
		o.Check(t, "reindexed")
	})
}

// s23uFloat has a Unique float, s23uTime a Unique time (one Unique index
// a type).
type (
	s23uFloat struct{ F float64 }
	s23uTime  struct{ T time.Time }
)

// s23uIDs lists the ids q finds, sorted.
func s23uIDs[T any](t *testing.T, m *rapyer.Model[T], q query.Query[T]) []string {
	t.Helper()
	var ids []string
	for id, err := range m.FindIDs(context.Background(), q) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// TestS23uEqualValuesOfOtherTextsAreOneUniqueValue: a Unique index takes
// two values as one when Go's equality (== of floats, time.Time.Equal)
// does, whatever their stored texts: -0 and 0 ("-0", "0"), one instant in
// two zones. The second model is refused with ErrDuplicate, and a query
// for either text finds the first model: Unique and Equal agree, through
// the one encoding (index.lua IX.enc).
func TestS23uEqualValuesOfOtherTextsAreOneUniqueValue(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		fl := lens.Of(func(v *s23uFloat) *float64 { return &v.F })
		fo := rapyer.Options{Prefix: b.Prefix + "s23uf", Indexes: []index.Spec{index.Unique(fl)}}
		fm := rapyer.MustNew[s23uFloat](b.Client, fo)
		negz := math.Copysign(0, -1)
		if err := fm.Save(ctx, "neg", s23uFloat{F: negz}); err != nil {
			t.Fatal(err)
		}
		s21Dup(t, "0 beside -0", fm.Save(ctx, "pos", s23uFloat{F: 0}), "belongs to neg")
		_, err := fm.Exec(ctx, "pos", tx.Of(ops.Incr(fl, 0.0)), func(c *rapyer.Call) { c.Exec.IfMissing = tx.MustBeNew })
		s21Dup(t, "a new model incremented to 0", err, "belongs to neg")
		for _, v := range []float64{0, negz} {
			if got := s23uIDs(t, fm, query.Where(is.Equal(fl, v))); !slices.Equal(got, []string{"neg"}) {
				t.Fatalf("a query for %v: %q", v, got)
			}
		}
		// a guard reads them as one too
		if _, err := fm.Exec(ctx, "neg", tx.Of(ops.Require(is.Equal(fl, 0.0)), ops.Set(fl, negz))); err != nil {
			t.Fatalf("a guard for 0 on -0: %v", err)
		}
		ixcheck.MustNew[s23uFloat](t, b.Client, fo.Prefix, 1, fo.Indexes, fm.IDs).Check(t, "floats")
		tl := lens.Of(func(v *s23uTime) *time.Time { return &v.T })
		to := rapyer.Options{Prefix: b.Prefix + "s23ut", Indexes: []index.Spec{index.Unique(tl)}}
		tm := rapyer.MustNew[s23uTime](b.Client, to)
		t0 := time.Date(2026, 12, 3, 10, 0, 0, 5, time.UTC)
		east := t0.In(time.FixedZone("east", 3600))
		if err := tm.Save(ctx, "utc", s23uTime{T: t0}); err != nil {
			t.Fatal(err)
		}
		s21Dup(t, "one instant in another zone", tm.Save(ctx, "east", s23uTime{T: east}), "belongs to utc")
		if got := s23uIDs(t, tm, query.Where(is.Equal(tl, east))); !slices.Equal(got, []string{"utc"}) {
			t.Fatalf("a query for the instant in another zone: %q", got)
		}
		if _, err := tm.Exec(ctx, "utc", tx.Of(ops.Require(is.Equal(tl, east)), ops.Set(tl, t0))); err != nil {
			t.Fatalf("a guard for the instant in another zone: %v", err)
		}
		if err := tm.Save(ctx, "east", s23uTime{T: east.Add(time.Nanosecond)}); err != nil {
			t.Fatalf("the next nanosecond: %v", err)
		}
		ixcheck.MustNew[s23uTime](t, b.Client, to.Prefix, 1, to.Indexes, tm.IDs).Check(t, "times")
	})
}

// s23uCoded has a Unique e-mail in the new declaration.
type s23uCoded struct {
	N     int
	Email string
}

// TestS23uReindexChecksAReadyGroupAWriterWithoutTheIndexWrote: a group
// is marked ready when a writer that declares the Unique index stores its
// first model; a process still running the old declaration (Groups: 1,
// no Unique index) then writes a model there with the same e-mail and no
// entry of it. Reindex, run once every writer has the new declaration,
// goes over the ready group too: it fails with ErrDuplicate naming both,
// and once one of them has another value it repairs the missing entries.
// Before, Reindex skipped the ready group: it returned nil, the two
// models held one value, and a query for the second one's e-mail missed
// it.
func TestS23uReindexChecksAReadyGroupAWriterWithoutTheIndexWrote(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		p := b.Prefix + "s23urdy"
		n := lens.Of(func(c *s23uCoded) *int { return &c.N })
		email := lens.Of(func(c *s23uCoded) *string { return &c.Email })
		opts := rapyer.Options{Prefix: p, Indexes: []index.Spec{index.On(n), index.Unique(email)}}
		m := rapyer.MustNew[s23uCoded](b.Client, opts)
		old := rapyer.MustNew[s23uCoded](b.NewClient(t, nil), rapyer.Options{Prefix: p, Groups: 1, Indexes: []index.Spec{index.On(n)}})
		o := ixcheck.MustNew[s23uCoded](t, b.Client, p, 1, opts.Indexes, m.IDs)
		if err := m.Save(ctx, "ann", s23uCoded{N: 1, Email: "x"}); err != nil {
			t.Fatal(err)
		}
		o.Check(t, "first")
		for _, id := range []string{"bob", "cat"} {
			if err := old.Save(ctx, id, s23uCoded{N: 2, Email: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		s21Dup(t, "Reindex over a ready group with a duplicate", m.Reindex(ctx, nil), "ann and bob")
		for _, id := range []string{"bob", "cat"} {
			if err := old.Save(ctx, id, s23uCoded{N: 2, Email: id + "@x"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Reindex(ctx, nil); err != nil {
			t.Fatalf("Reindex without duplicates: %v", err)
		}
		o.Check(t, "repaired")
		got := s23uIDs(t, m, query.Where(is.Equal(email, "bob@x")))
		if !slices.Equal(got, []string{"bob"}) {
			t.Fatalf("a query for bob's e-mail: %q", got)
		}
		s21Dup(t, "bob's e-mail, indexed now", m.Save(ctx, "dan", s23uCoded{Email: "bob@x"}), "belongs to bob")
		o.Check(t, "after")
	})
}
