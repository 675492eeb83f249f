package rapyer

import (
	"reflect"
	"testing"
	"time"
)

// TestCopiesByValue: Lock keeps a model as found, for the diff, by a plain
// copy only when the copy shares nothing fn could change in place; any
// map, slice, pointer or interface, however deep, takes the second decode.
func TestCopiesByValue(t *testing.T) {
	type flat struct {
		Name  string
		N     int64
		F     float64
		B     bool
		Pair  [2]string
		Inner struct{ S string }
	}
	type deep struct {
		Inner struct{ Tags [1][]string }
	}
	cases := []struct {
		t    reflect.Type
		want bool
	}{
		{reflect.TypeFor[flat](), true},
		{reflect.TypeFor[struct{ Tags []string }](), false},
		{reflect.TypeFor[struct{ M map[string]int }](), false},
		{reflect.TypeFor[struct{ P *int }](), false},
		{reflect.TypeFor[struct{ A any }](), false},
		{reflect.TypeFor[struct{ At time.Time }](), false}, // its *Location
		{reflect.TypeFor[deep](), false},
	}
	for _, c := range cases {
		if got := copiesByValue(c.t); got != c.want {
			t.Errorf("copiesByValue(%v) = %v, want %v", c.t, got, c.want)
		}
	}
}
