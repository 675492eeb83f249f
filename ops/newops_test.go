package ops_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Meter is the model of the tests of Div and IncrItem: floats of both
// sizes, and maps of numbers of several kinds.
type Meter struct {
	Rate    float64
	Rate32  float32
	Hits    map[string]int
	Hits8   map[string]int8
	HitsU   map[string]uint64
	Weights map[string]float64
	W32     map[string]float32
	Tags    []string
}

var (
	Rate    = lens.Of(func(m *Meter) *float64 { return &m.Rate })
	Rate32  = lens.Of(func(m *Meter) *float32 { return &m.Rate32 })
	Hits    = lens.Of(func(m *Meter) *map[string]int { return &m.Hits })
	Hits8   = lens.Of(func(m *Meter) *map[string]int8 { return &m.Hits8 })
	HitsU   = lens.Of(func(m *Meter) *map[string]uint64 { return &m.HitsU })
	Weights = lens.Of(func(m *Meter) *map[string]float64 { return &m.Weights })
	W32     = lens.Of(func(m *Meter) *map[string]float32 { return &m.W32 })
	Tags    = lens.Of(func(m *Meter) *[]string { return &m.Tags })
)

// meterCase is a batch run on a stored Meter: what it leaves, what it
// yields, or the error it fails with (and then nothing is written).
type meterCase struct {
	name  string
	start Meter
	setup func(ctx context.Context, b *testenv.Backend, m *rapyer.Model[Meter]) error // corrupts the stored model
	batch tx.Batch
	want  Meter                            // read back, when err is nil
	yield func(t *testing.T, r *tx.Result) // checks what the ops yielded
	err   error                            // the batch fails with it
	text  string                           // the error names it
}

func newMeters(t *testing.T, b *testenv.Backend, i int) *rapyer.Model[Meter] {
	t.Helper()
	m, err := rapyer.New[Meter](b.Client, rapyer.Options{Prefix: fmt.Sprintf("%smeter%d", b.Prefix, i)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// meterKeys is every key of model id, with its content, for before and
// after comparisons.
func meterKeys(t *testing.T, b *testenv.Backend, m *rapyer.Model[Meter], id string) map[string]any {
	t.Helper()
	ctx := context.Background()
	ks, err := m.Keys(id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for _, k := range ks {
		typ := b.Client.Type(ctx, k).Val()
		switch typ {
		case "hash":
			out[k] = b.Client.HGetAll(ctx, k).Val()
		case "list":
			out[k] = b.Client.LRange(ctx, k, 0, -1).Val()
		case "none":
		default:
			out[k] = typ
		}
	}
	return out
}

// runMeterCases runs every case on every backend.
func runMeterCases(t *testing.T, cases []meterCase) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx := context.Background()
				m := newMeters(t, b, i)
				if err := m.Save(ctx, "x", c.start); err != nil {
					t.Fatal(err)
				}
				if c.setup != nil {
					if err := c.setup(ctx, b, m); err != nil {
						t.Fatal(err)
					}
				}
				before := meterKeys(t, b, m, "x")
				res, err := m.Exec(ctx, "x", c.batch)
				if c.err != nil {
					if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.text) {
						t.Fatalf("exec %s: %v; want %v naming %s", strings.TrimSpace(c.batch.String()), err, c.err, c.text)
					}
					if diff := cmp.Diff(before, meterKeys(t, b, m, "x")); diff != "" {
						t.Errorf("a failed batch changed the model (-before +after):\n%s", diff)
					}
					return
				}
				if err != nil {
					t.Fatalf("exec %s: %v", strings.TrimSpace(c.batch.String()), err)
				}
				if c.yield != nil {
					c.yield(t, res)
				}
				got, err := m.Get(ctx, "x")
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(c.want, got, strict); diff != "" {
					t.Errorf("model after %s (-want +got):\n%s", strings.TrimSpace(c.batch.String()), diff)
				}
			})
		}
	})
}

// edited returns v changed by fn.
func edited[T any](v T, fn func(*T)) T {
	fn(&v)
	return v
}
