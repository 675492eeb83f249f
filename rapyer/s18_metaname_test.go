package rapyer_test

import (
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
