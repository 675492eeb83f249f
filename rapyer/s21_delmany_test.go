package rapyer_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// s21Other is a model like s21Gone (found by age 7 and tag t, as keep is,
// and by tag u), with an email of its own (a unique index).
func s21Other(id string) ixUser {
	return ixUser{Email: id + "@x", Age: 7, Tags: map[string]struct{}{"t": {}, "u": {}}}
}

// TestS21DeleteManyClearsModelsWithoutTheirRoot: DeleteMany of models that
// exist, models whose root hash is gone while their collection keys and
// index entries stay, and a model with nothing stored deletes them all and
// leaves no key or index entry of any; it returns the ids of those that
// existed only, as before (a model without its root did not exist, as for
// Delete). Before, it passed over the models without their root and left
// their keys and entries for good. On every tier, for an indexed type and
// a plain one, with some models missing and with all of them.
func TestS21DeleteManyClearsModelsWithoutTheirRoot(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for _, indexed := range []bool{true, false} {
			o := rapyer.Options{Prefix: b.Prefix + "s21dm"}
			if indexed {
				o.Prefix, o.Indexes = b.Prefix+"s21dmix", s21Specs
			}
			m := rapyer.MustNew[ixUser](b.Client, o)
			if err := m.Save(ctx, "keep", s21Keep); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"live1", "live2"} {
				if err := m.Save(ctx, id, s21Other(id)); err != nil {
					t.Fatal(err)
				}
			}
			for _, id := range []string{"gone1", "gone2", "gone3", "gone4"} {
				s21Orphan(t, b, m, id, s21Other(id))
			}
			all := []string{"gone1", "live1", "nobody", "gone2", "live2"}
			got, err := m.DeleteMany(ctx, all...)
			if err != nil || !slices.Equal(got, []string{"live1", "live2"}) {
				t.Fatalf("indexed %v: DeleteMany = %q, %v; want [live1 live2], nil", indexed, got, err)
			}
			// only models without their root: none existed
			got, err = m.DeleteMany(ctx, "gone3", "gone4", "nobody")
			if err != nil || len(got) != 0 {
				t.Fatalf("indexed %v: DeleteMany of missing models = %q, %v; want none, nil", indexed, got, err)
			}
			for _, id := range append(all, "gone3", "gone4") {
				if left := s21Leftovers(t, b, o.Prefix, id); len(left) > 0 {
					t.Errorf("indexed %v: DeleteMany left %q of %s", indexed, left, id)
				}
			}
			if ok, err := m.Exists(ctx, "keep"); !ok || err != nil {
				t.Errorf("indexed %v: keep after DeleteMany: %v, %v", indexed, ok, err)
			}
			if indexed {
				s21OnlyKeep(t, m, "after DeleteMany")
				for _, q := range []query.Query[ixUser]{
					query.Where(is.Member(ixTags, "u")), query.Where(is.Equal(ixEmail, "gone1@x")), query.Where(is.Equal(ixEmail, "live1@x")),
				} {
					if ids, n := s21Found(t, m, q); len(ids) != 0 || n != 0 {
						t.Errorf("%v found %q, count %d; want none", q, ids, n)
					}
				}
			}
		}
	})
}

// TestS21DeleteManyOfLeftoversChecksBeforeItWrites: a collection key of
// another Redis type left by a model without its root fails DeleteMany
// with ErrWrongType before it writes, as it fails Delete: the leftovers
// stay as they were and, in the same batch, the model that exists stays.
func TestS21DeleteManyOfLeftoversChecksBeforeItWrites(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		o := rapyer.Options{Prefix: b.Prefix + "s21dmwt", Indexes: s21Specs}
		m := rapyer.MustNew[ixUser](b.Client, o)
		if err := m.Save(ctx, "keep", s21Keep); err != nil {
			t.Fatal(err)
		}
		s21Orphan(t, b, m, "gone1", s21Gone)
		root, _ := m.Key("gone1")
		b.Client.Del(ctx, root+":tags")
		b.Client.Set(ctx, root+":tags", "text", 0)
		before := s21Leftovers(t, b, o.Prefix, "gone1")
		_, err := m.DeleteMany(ctx, "keep", "gone1")
		if !errors.Is(err, rapyer.ErrWrongType) {
			t.Fatalf("DeleteMany over a tags key of another type: %v; want ErrWrongType", err)
		}
		after := s21Leftovers(t, b, o.Prefix, "gone1")
		slices.Sort(before)
		slices.Sort(after)
		if !slices.Equal(before, after) {
			t.Errorf("a failed DeleteMany changed what was left:\nbefore %q\nafter  %q", before, after)
		}
		// on a cluster keep may be in a slot of its own, deleted by its batch
		if !errors.Is(err, rapyer.ErrPartlyApplied) {
			if ok, err := m.Exists(ctx, "keep"); !ok || err != nil {
				t.Errorf("keep after the failed DeleteMany: %v, %v", ok, err)
			}
		}
	})
}

// TestS21SkipOfSeveralDeletesClearsOnlyWhenAllAreMissing: a batch that only
// deletes several models, with tx.SkipIfMissing (mode purge), deletes the
// leftovers of models without their root when every model is missing, and
// reports Skipped; when one of them exists it is a skip as before: nothing
// written, the model and the leftovers as they were. On every tier (an
// indexed type: all its models share one slot group).
func TestS21SkipOfSeveralDeletesClearsOnlyWhenAllAreMissing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		o := rapyer.Options{Prefix: b.Prefix + "s21skip", Indexes: s21Specs}
		m := rapyer.MustNew[ixUser](b.Client, o)
		if err := m.Save(ctx, "keep", s21Keep); err != nil {
			t.Fatal(err)
		}
		s21Orphan(t, b, m, "gone1", s21Other("gone1"))
		s21Orphan(t, b, m, "gone2", s21Other("gone2"))
		del := func(ids ...string) tx.Batch {
			var bt tx.Batch
			for _, id := range ids {
				bt = tx.Join(bt, tx.On(m.Target(id), ops.Delete[ixUser]()))
			}
			return bt
		}
		skip := tx.Options{IfMissing: tx.SkipIfMissing}
		before := s21Leftovers(t, b, o.Prefix, "gone1")
		res, err := tx.Exec(ctx, b.Client, del("gone1", "keep"), skip)
		if err != nil || !res.Skipped {
			t.Fatalf("one missing, one not: %+v, %v; want Skipped", res, err)
		}
		after := s21Leftovers(t, b, o.Prefix, "gone1")
		slices.Sort(before)
		slices.Sort(after)
		if !slices.Equal(before, after) {
			t.Errorf("a skip changed the leftovers:\nbefore %q\nafter  %q", before, after)
		}
		if ok, err := m.Exists(ctx, "keep"); !ok || err != nil {
			t.Fatalf("keep after a skip: %v, %v", ok, err)
		}
		res, err = tx.Exec(ctx, b.Client, del("gone1", "gone2", "nobody"), skip)
		if err != nil || !res.Skipped {
			t.Fatalf("all missing: %+v, %v; want Skipped", res, err)
		}
		for _, id := range []string{"gone1", "gone2"} {
			if left := s21Leftovers(t, b, o.Prefix, id); len(left) > 0 {
				t.Errorf("the skip of all missing left %q of %s", left, id)
			}
		}
		s21OnlyKeep(t, m, "after the skip of all missing")
	})
}
