package rapyer_test

import (
	"context"
	"errors"
	"slices"
	"testing"

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

// s23uIsDup reports whether err is an ErrDuplicate.
func s23uIsDup(err error) bool { return errors.Is(err, rapyer.ErrDuplicate) }
