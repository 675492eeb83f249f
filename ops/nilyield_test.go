package ops_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

type NilMeter struct {
	N int
	L []int
}

var NilMeterN = lens.Of(func(m *NilMeter) *int { return &m.N })

// TestNilYieldOpsFailTyped: a nil *ops.Yield, *ops.Maybe or *ops.Pair (a
// variable declared and never given an op) in a batch fails Exec, Commands
// and its own Result with ErrInvalid, and String prints "<nil op>"; they
// used to panic with a nil dereference. Nothing is written. On every tier.
func TestNilYieldOpsFailTyped(t *testing.T) {
	var y *ops.Yield[int]
	var mb *ops.Maybe[int]
	var p *ops.Pair[string, int]
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[NilMeter](b.Client, rapyer.Options{Prefix: b.Prefix + "meter"})
		if err := m.Save(ctx, "a", NilMeter{N: 1}); err != nil {
			t.Fatal(err)
		}
		for _, o := range []ops.Op{y, mb, p, &ops.Yield[int]{}} {
			err := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panicked: %v", r)
					}
				}()
				if s := tx.Of(o).String(); s != "<nil op>\n" {
					return fmt.Errorf("String: %q", s)
				}
				if _, err := tx.Of(o).On(m.Target("a")).Commands(); !errors.Is(err, rapyer.ErrInvalid) {
					return fmt.Errorf("Commands: %v", err)
				}
				_, err = m.Exec(ctx, "a", tx.Of(ops.Incr(NilMeterN, 1), o))
				return err
			}()
			if !errors.Is(err, rapyer.ErrInvalid) {
				t.Errorf("%T: %v; want ErrInvalid", o, err)
			}
		}
		res, err := m.Exec(ctx, "a", tx.Of(ops.Incr(NilMeterN, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := y.Result(res); !errors.Is(err, rapyer.ErrInvalid) {
			t.Errorf("Result of a nil *Yield: %v; want ErrInvalid", err)
		}
		if _, _, err := mb.Result(res); !errors.Is(err, rapyer.ErrInvalid) {
			t.Errorf("Result of a nil *Maybe: %v; want ErrInvalid", err)
		}
		if _, _, err := p.Result(res); !errors.Is(err, rapyer.ErrInvalid) {
			t.Errorf("Result of a nil *Pair: %v; want ErrInvalid", err)
		}
		if got, err := m.Get(ctx, "a"); err != nil || got.N != 2 {
			t.Errorf("a: %+v, %v; want N 2: the refused batches wrote nothing", got, err)
		}
	})
}
