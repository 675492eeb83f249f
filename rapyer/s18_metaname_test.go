package rapyer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/rapyer"
)

// s18At has fields stored under names the slot groups' @meta keeps for
// the library.
type s18At struct {
	G string `redis:"@groups"`
	M string `redis:"@move"`
}

var (
	s18G = lens.Of(func(p *s18At) *string { return &p.G })
	s18M = lens.Of(func(p *s18At) *string { return &p.M })
)

// TestAnIndexOnAFieldStoredUnderAnAtNameIsRefused: an index's state lives
// in its group's @meta under the index's name, beside @groups, @move and
// @reindex: rapyer.New refuses an index on a field stored as "@...",
// naming the field. Before, an index on a field stored as "@groups" was
// taken: the first write's "ready" mark found @groups taken (HSETNX), and
// every query of it failed with ErrNotIndexed, "not built yet", for ever.
func TestAnIndexOnAFieldStoredUnderAnAtNameIsRefused(t *testing.T) {
	b := testenv.On(t, testenv.Mini)
	for _, s := range []index.Spec{index.On(s18G), index.Unique(s18M)} {
		_, err := rapyer.New[s18At](b.Client, rapyer.Options{Prefix: b.Prefix + "at", Indexes: []index.Spec{s}})
		if !errors.Is(err, rapyer.ErrUnsupported) || !strings.Contains(err.Error(), "starts with @") {
			t.Errorf("%s: %v, want ErrUnsupported naming the field", s, err)
		}
	}
	if _, err := rapyer.New[s18At](b.Client, rapyer.Options{Prefix: b.Prefix + "at"}); err != nil {
		t.Fatalf("the type without indexes: %v", err)
	}
}

// TestDropIndexOfAnAtNameIsRefused: DropIndex of "@groups", "@move" or
// "@reindex" (the library's fields of @meta, no index's name) fails with
// ErrInvalid and deletes nothing: a Model of the type with other Groups is
// still refused. Before, DropIndex("@groups") deleted the record of the
// type's groups (and "@move" the state of its first index's move), and a
// Model with other Groups then read and wrote the type unrefused.
func TestDropIndexOfAnAtNameIsRefused(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, _ := s17Items(t, b, rapyer.Options{Groups: 2})
		if err := m.Save(ctx, "a", s17Item{Kind: "k"}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"@groups", "@move", "@reindex"} {
			if err := m.DropIndex(ctx, name); !errors.Is(err, rapyer.ErrInvalid) {
				t.Errorf("DropIndex(%s): %v, want ErrInvalid", name, err)
			}
		}
		other, err := rapyer.New[s17Item](b.Client, rapyer.Options{Prefix: b.Prefix + "s17", Groups: 5,
			Indexes: []index.Spec{index.On(s17Kind), index.On(s17Rank)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Get(ctx, "a"); !errors.Is(err, rapyer.ErrInvalid) {
			t.Fatalf("a Model with 5 groups of a type stored in 2: %v, want ErrInvalid", err)
		}
	})
}
