package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// s21Nicked has an optional nickname: nil is no nickname at all.
type s21Nicked struct {
	Name string
	Nick *string
}

// s21Profile is held by pointer in s21Holder.
type s21Profile struct {
	Email string
	Age   int
}

// s21Holder has an optional profile.
type s21Holder struct {
	Name    string
	Profile *s21Profile
}

var (
	s21Nick  = lens.Of(func(n *s21Nicked) **string { return &n.Nick })
	s21Email = lens.Of(func(h *s21Holder) *string { return &h.Profile.Email })
	s21Age   = lens.Of(func(h *s21Holder) *int { return &h.Profile.Age })
)

// s21Order lists the ids of m in the order of f (ascending).
func s21Order[T any](t *testing.T, m *rapyer.Model[T], f query.Sortable) []string {
	t.Helper()
	var got []string
	for id, err := range m.FindIDs(context.Background(), query.All[T]().OrderBy(f)) {
		if err != nil {
			t.Fatalf("OrderBy: %v", err)
		}
		got = append(got, id)
	}
	return got
}

// s21Dup fails t unless err is an ErrDuplicate naming what.
func s21Dup(t *testing.T, what string, err error, naming string) {
	t.Helper()
	if !errors.Is(err, rapyer.ErrDuplicate) || !strings.Contains(err.Error(), naming) {
		t.Fatalf("%s: %v, want ErrDuplicate naming %q", what, err, naming)
	}
}

// TestAnAbsentValueClaimsNothingOfAUniqueIndex: a nil pointer field has no
// value, and a Unique index holds it as SQL holds NULL: any number of
// models may lack it, and none of them blocks a model that sets the zero
// value ("") explicitly; that one then owns "". The absent models stay in
// the order of the field, under its zero. Before, the absent value was
// claimed as "" (by the last model saved without it), and a model that set
// "" was refused with ErrDuplicate; a model that let "" go for nil kept
// blocking it too.
func TestAnAbsentValueClaimsNothingOfAUniqueIndex(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		opts := rapyer.Options{Prefix: b.Prefix + "s21nick", Indexes: []index.Spec{index.Unique(s21Nick)}}
		m := rapyer.MustNew[s21Nicked](b.Client, opts)
		o := ixcheck.MustNew[s21Nicked](t, b.Client, opts.Prefix, 1, opts.Indexes, m.IDs)
		for _, id := range []string{"ann", "bob"} {
			if err := m.Save(ctx, id, s21Nicked{Name: id}); err != nil {
				t.Fatalf("%s without a nick: %v", id, err)
			}
		}
		if _, err := m.Insert(ctx, s21Nicked{Name: "anon"}); err != nil {
			t.Fatalf("a third without a nick: %v", err)
		}
		o.Check(t, "absent")
		empty, x := "", "x"
		if err := m.Save(ctx, "cat", s21Nicked{Name: "cat", Nick: &empty}); err != nil {
			t.Fatalf("the zero value set explicitly beside absent ones: %v", err)
		}
		o.Check(t, "zero")
		s21Dup(t, "a second explicit zero", m.Save(ctx, "dan", s21Nicked{Nick: &empty}), "belongs to cat")
		// absent models may still come, and go to a value and back
		if err := m.Save(ctx, "dan", s21Nicked{Name: "dan"}); err != nil {
			t.Fatalf("one more without a nick: %v", err)
		}
		if _, err := m.Exec(ctx, "ann", tx.Of(ops.Set(s21Nick, &x))); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Exec(ctx, "ann", tx.Of(ops.Set(s21Nick, (*string)(nil)))); err != nil {
			t.Fatalf("back to no nick: %v", err)
		}
		// the explicit zero let go for nil frees it for another
		if _, err := m.Exec(ctx, "cat", tx.Of(ops.Set(s21Nick, (*string)(nil)))); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Exec(ctx, "bob", tx.Of(ops.Set(s21Nick, &empty))); err != nil {
			t.Fatalf("a zero let go for nil: %v", err)
		}
		o.Check(t, "moved")
		got := s21Order(t, m, s21Nick)
		if len(got) != 5 || !slices.Contains(got, "ann") || !slices.Contains(got, "dan") || !slices.Contains(got, "cat") {
			t.Fatalf("OrderBy(Nick) lists %q, want every model", got)
		}
	})
}

// TestAFieldUnderANilPointerClaimsNothingOfAUniqueIndex: a field under a
// nil *struct is absent as a nil pointer is: two models without a profile
// both save, a model whose profile has the empty e-mail is not blocked by
// them (and blocks a second one), and OrderBy(Profile.Email) still lists
// them all, the absent ones under "". A stale claim of "" (a model's that
// does not hold it; the old code made such claims for absent values) does
// not block either.
func TestAFieldUnderANilPointerClaimsNothingOfAUniqueIndex(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		opts := rapyer.Options{Prefix: b.Prefix + "s21prof", Indexes: []index.Spec{index.Unique(s21Email), index.On(s21Age)}}
		m := rapyer.MustNew[s21Holder](b.Client, opts)
		o := ixcheck.MustNew[s21Holder](t, b.Client, opts.Prefix, 1, opts.Indexes, m.IDs)
		for _, id := range []string{"ann", "bob"} {
			if err := m.Save(ctx, id, s21Holder{Name: id}); err != nil {
				t.Fatalf("%s without a profile: %v", id, err)
			}
		}
		if err := m.Save(ctx, "cat", s21Holder{Profile: &s21Profile{Email: "c@x"}}); err != nil {
			t.Fatal(err)
		}
		o.Check(t, "absent")
		if err := m.Save(ctx, "dan", s21Holder{Name: "dan", Profile: &s21Profile{}}); err != nil {
			t.Fatalf("a profile with the empty e-mail beside models without one: %v", err)
		}
		s21Dup(t, "a second profile with the empty e-mail", m.Save(ctx, "eve", s21Holder{Profile: &s21Profile{}}), "belongs to dan")
		if err := m.Save(ctx, "eve", s21Holder{Name: "eve"}); err != nil {
			t.Fatalf("a model without a profile beside one with the empty e-mail: %v", err)
		}
		o.Check(t, "zero")
		if got, want := s21Order(t, m, s21Email), []string{"ann", "bob", "dan", "eve", "cat"}; !slices.Equal(got, want) {
			t.Fatalf("OrderBy(Profile.Email): %q, want %q", got, want)
		}
		// a stale claim: "" claimed by ann, who holds no e-mail
		if _, err := m.Delete(ctx, "dan"); err != nil {
			t.Fatal(err)
		}
		base := fmt.Sprintf("%s:{%s#0}", opts.Prefix, opts.Prefix)
		if err := b.Client.HSet(ctx, base+":@u:profile.email", "\x00\x01", "ann").Err(); err != nil {
			t.Fatal(err)
		}
		if err := m.Save(ctx, "fay", s21Holder{Profile: &s21Profile{}}); err != nil {
			t.Fatalf("the empty e-mail over a stale claim: %v", err)
		}
		o.Check(t, "stale")
	})
}

// TestARebuildOfAUniqueIndexTakesModelsWithNilPointers: models stored
// before a Unique index, several of them with a nil pointer (and a field
// under a nil *struct), rebuild into it: the absent values are no
// duplicates. Before, Reindex failed with ErrDuplicate naming two models
// that both lacked the value. A real duplicate is still refused.
func TestARebuildOfAUniqueIndexTakesModelsWithNilPointers(t *testing.T) {
	for _, chunk := range []int{200, 1} {
		testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
			defer rapyer.SetReindexChunk(chunk)()
			ctx := context.Background()
			p := b.Prefix + fmt.Sprint("s21rb", chunk)
			old := rapyer.MustNew[s21Holder](b.Client, rapyer.Options{Prefix: p, Groups: 1, Indexes: []index.Spec{index.On(s21Age)}})
			for id, v := range map[string]s21Holder{"ann": {}, "bob": {}, "cat": {Profile: &s21Profile{}}, "dan": {Profile: &s21Profile{Email: "d@x"}}, "eve": {}} {
				if err := old.Save(ctx, id, v); err != nil {
					t.Fatal(err)
				}
			}
			opts := rapyer.Options{Prefix: p, Indexes: []index.Spec{index.On(s21Age), index.Unique(s21Email)}}
			m := rapyer.MustNew[s21Holder](b.Client, opts)
			if err := m.Reindex(ctx, nil); err != nil {
				t.Fatalf("a rebuild over models with nil pointers: %v", err)
			}
			ixcheck.MustNew[s21Holder](t, b.Client, p, 1, opts.Indexes, m.IDs).Check(t, "rebuilt")
			if got := s21Order(t, m, s21Email); len(got) != 5 || got[4] != "dan" {
				t.Fatalf("OrderBy(Profile.Email) after the rebuild: %q", got)
			}
			s21Dup(t, "the empty e-mail cat holds", m.Save(ctx, "fay", s21Holder{Profile: &s21Profile{}}), "belongs to cat")
			if err := m.Save(ctx, "fay", s21Holder{}); err != nil {
				t.Fatal(err)
			}
			// a real duplicate stored before the index is still refused
			q := p + "dup"
			old = rapyer.MustNew[s21Holder](b.Client, rapyer.Options{Prefix: q, Groups: 1, Indexes: []index.Spec{index.On(s21Age)}})
			for id, v := range map[string]s21Holder{"ann": {}, "bob": {}, "cat": {Profile: &s21Profile{}}, "dan": {Profile: &s21Profile{}}} {
				if err := old.Save(ctx, id, v); err != nil {
					t.Fatal(err)
				}
			}
			m = rapyer.MustNew[s21Holder](b.Client, rapyer.Options{Prefix: q, Indexes: opts.Indexes})
			err := m.Reindex(ctx, nil)
			s21Dup(t, "a rebuild over a real duplicate", err, "cat")
			if !strings.Contains(err.Error(), "dan") {
				t.Fatalf("the duplicate names one model: %v", err)
			}
		})
	}
}

// s21Plain has no pointer: a field of it is never absent. s21PlainOld is
// the type before Code was added.
type (
	s21Plain struct {
		N    int
		Code string
	}
	s21PlainOld struct{ N int }
)

// TestAnUnstoredFieldOfAPlainPathClaimsItsZero: a field on a path without
// a pointer is its zero when the root hash lacks it (the field was added
// to the type after the model was saved): it claims the zero of a Unique
// index as a stored zero does, so the NULL rule opens no second "".
func TestAnUnstoredFieldOfAPlainPathClaimsItsZero(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		code := lens.Of(func(p *s21Plain) *string { return &p.Code })
		n := lens.Of(func(p *s21PlainOld) *int { return &p.N })
		p := b.Prefix + "s21plain"
		old := rapyer.MustNew[s21PlainOld](b.Client, rapyer.Options{Prefix: p, Groups: 1, Indexes: []index.Spec{index.On(n)}})
		if err := old.Save(ctx, "ann", s21PlainOld{N: 1}); err != nil {
			t.Fatal(err)
		}
		opts := rapyer.Options{Prefix: p, Indexes: []index.Spec{index.Unique(code)}}
		m := rapyer.MustNew[s21Plain](b.NewClient(t, nil), opts)
		if err := m.Reindex(ctx, nil); err != nil {
			t.Fatal(err)
		}
		s21Dup(t, "the zero of a field added after the save", m.Save(ctx, "bob", s21Plain{}), "belongs to ann")
		ixcheck.MustNew[s21Plain](t, b.Client, p, 1, opts.Indexes, m.IDs).Check(t, "plain")
	})
}
