package rapyer_test

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// Element types JSON cannot hold without loss.
type (
	s25tTwoNamesX struct {
		A int `json:"B"`
		B int
	}
	s25tPromotedID struct{ ID string }
	s25tShadowedID struct {
		s25tPromotedID
		ID string
	}
	s25tUnexportedOnly struct{ n int }
)

// Element types JSON holds as they are.
type (
	s25tSkipped struct {
		A int `json:"-"`
		B int
	}
	s25tPromoted struct {
		s25tPromotedID
		Name string
	}
	s25tGoodElems struct {
		Skipped  []s25tSkipped
		Promoted []s25tPromoted
		IntKeys  []map[int]string
		TextKeys []map[netip.Addr]int
		Empty    []struct{}
	}
)

// TestS25tJSONElementTypesThatLoseDataAreRefused: a collection element
// stored as JSON of a type encoding/json cannot round-trip is refused when
// the model is built, with rapyer.ErrUnsupported naming the field, as
// every other unsupported type (docs/storage.md). Two fields of one JSON
// name (both dropped by encoding/json, or the deeper one shadowed) and a
// struct without exported fields were saved as "{}" with no error, the
// values lost; a map of float or bool keys built, and every Save of a
// non-empty one failed. Types JSON holds (a "-" tag, promoted fields, int
// and TextMarshaler keys) still build and round-trip. On every tier.
func TestS25tJSONElementTypesThatLoseDataAreRefused(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		refused := map[string]func() error{
			"two fields named B":        s25tNew[struct{ L []s25tTwoNamesX }](b, "L"),
			"a shadowed promoted field": s25tNew[struct{ M map[string]s25tShadowedID }](b, "M"),
			"no exported field":         s25tNew[struct{ L []*s25tUnexportedOnly }](b, "L"),
			"float keys":                s25tNew[struct{ L []map[float64]int }](b, "L"),
			"bool keys":                 s25tNew[struct{ M map[string]map[bool]int }](b, "M"),
			"nested in an element":      s25tNew[struct{ L [][]s25tTwoNamesX }](b, "L"),
		}
		for name, build := range refused {
			if err := callSafely(build); !errors.Is(err, rapyer.ErrUnsupported) {
				t.Errorf("%s: New: %v; want rapyer.ErrUnsupported naming the field", name, err)
			}
		}
		ctx := context.Background()
		m, err := rapyer.New[s25tGoodElems](b.Client, rapyer.Options{Prefix: b.Prefix + "s25tgood"})
		if err != nil {
			t.Fatal(err)
		}
		v := s25tGoodElems{
			Skipped:  []s25tSkipped{{B: 2}},
			Promoted: []s25tPromoted{{s25tPromotedID{"i"}, "n"}},
			IntKeys:  []map[int]string{{-1: "a", 2: "b"}},
			TextKeys: []map[netip.Addr]int{{netip.MustParseAddr("::1"): 1}},
			Empty:    []struct{}{{}, {}},
		}
		if err := m.Save(ctx, "a", v); err != nil {
			t.Fatal(err)
		}
		if got, err := m.Get(ctx, "a"); err != nil || !reflect.DeepEqual(got, v) {
			t.Errorf("Get: %+v, %v; want %+v", got, err, v)
		}
	})
}

var s25tSeq atomic.Int64

// s25tNew builds a model of T and checks that its error names field.
func s25tNew[T any](b *testenv.Backend, field string) func() error {
	return func() error {
		_, err := rapyer.New[T](b.Client, rapyer.Options{Prefix: b.Prefix + "s25tbad" + strconv.FormatInt(s25tSeq.Add(1), 10)})
		if err != nil && !strings.Contains(err.Error(), "field "+field) {
			return errors.New("error names no field " + field + ": " + err.Error())
		}
		return err
	}
}
