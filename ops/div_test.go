package ops_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

func divCases() []meterCase {
	rate := func(f float64) Meter { return Meter{Rate: f, Tags: []string{"a"}} }
	y := func(name string, start Meter, o *ops.Yield[float64], want Meter, res float64) meterCase {
		return meterCase{name: name, start: start, batch: tx.Of(o), want: want, yield: yields(o, res)}
	}
	fail := func(name string, start Meter, o ops.Op, err error, text string) meterCase {
		// an append before the op: it must not be written either
		return meterCase{name: name, start: start, batch: tx.Of(ops.Append(Tags, "w"), o), err: err, text: text}
	}
	d32 := ops.Div(Rate32, 4)
	tiny := 1e-300
	big := 1 / tiny // the server divides as Go does at run time (IEEE 754)
	return []meterCase{
		y("Div", rate(7), ops.Div(Rate, 2), rate(3.5), 3.5),
		y("Div is true division, not floor", rate(-7), ops.Div(Rate, 2), rate(-3.5), -3.5),
		y("Div by a negative", rate(1), ops.Div(Rate, -4), rate(-0.25), -0.25),
		y("Div of an absent field is 0", Meter{}, ops.Div(Rate, 3), Meter{}, 0),
		y("Div by a tiny number", rate(1), ops.Div(Rate, tiny), rate(big), big),
		y("Div gives a float written with an exponent", rate(1), ops.Div(Rate, 1e21), rate(1e-21), 1e-21),
		{name: "Div float32", start: Meter{Rate32: 3}, batch: tx.Of(d32), want: Meter{Rate32: 0.75}, yield: yields(d32, float32(0.75))},
		{name: "Div then Incr see each other", start: rate(9),
			batch: tx.Of(ops.Div(Rate, 3), ops.Incr(Rate, 1)), want: rate(4)},

		fail("Div by zero", rate(7), ops.Div(Rate, 0), rapyer.ErrInvalid, "Div(rate, 0)"),
		fail("Div of zero by zero", Meter{}, ops.Div(Rate, 0), rapyer.ErrInvalid, "division by zero"),
		fail("Div past the float range", rate(1e300), ops.Div(Rate, 1e-300), rapyer.ErrOverflow, "Div(rate"),
		fail("Div past the float32 range", Meter{Rate32: 3e38}, ops.Div(Rate32, 0.01), rapyer.ErrOverflow, "Div(rate32"),
		fail("Div of an infinite field", rate(math.Inf(1)), ops.Div(Rate, 2), rapyer.ErrOverflow, "Div(rate"),
		fail("Div by an infinite operand", rate(1), ops.Div(Rate, math.Inf(1)), rapyer.ErrInvalid, "finite"),
		fail("Div by NaN", rate(1), ops.Div(Rate, math.NaN()), rapyer.ErrInvalid, "finite"),
		{name: "Div of a field holding text", start: rate(1),
			setup: func(ctx context.Context, b *testenv.Backend, m *rapyer.Model[Meter]) error {
				k, _ := m.Key("x")
				return b.Client.HSet(ctx, k, "rate", "abc").Err()
			},
			batch: tx.Of(ops.Append(Tags, "w"), ops.Div(Rate, 2)), err: rapyer.ErrCorrupt, text: "Div(rate, 2)"},
	}
}

// TestDiv: true division of float fields on every backend, and its failures,
// which write nothing.
func TestDiv(t *testing.T) { runMeterCases(t, divCases()) }

// TestDivDoesNotCompileOnIntegers: Div takes float fields only; on an int
// field it is a compile error, FloorDiv being the integer division. A
// program that calls Div on a float field builds; the same on an int field
// does not.
func TestDivDoesNotCompileOnIntegers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs")
	}
	const src = `package main

import (
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
)

type M struct {
	F float64
	I int
}

func main() {
	_ = ops.Div(lens.Of(func(m *M) *%s { return &m.%s }), 2)
}
`
	build := func(typ, field string) (string, error) {
		dir, err := os.MkdirTemp(".", ".div-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(fmt.Sprintf(src, typ, field)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("go", "vet", "./"+dir).CombinedOutput()
		return string(out), err
	}
	if out, err := build("float64", "F"); err != nil {
		t.Fatalf("Div on a float64 field does not build: %v\n%s", err, out)
	}
	out, err := build("int", "I")
	if err == nil {
		t.Fatal("Div on an int field builds; it must not")
	}
	if !strings.Contains(out, "does not satisfy") {
		t.Fatalf("Div on an int field fails to build, but not for its type: %s", out)
	}
}

// Div is Python's /: true division of a float field, on the server.
func ExampleDiv() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Sensor struct{ Reading float64 }
	reading := lens.Of(func(s *Sensor) *float64 { return &s.Reading })
	sensors := rapyer.MustNew[Sensor](rdb, rapyer.Options{})
	_ = sensors.Save(ctx, "s1", Sensor{Reading: 7})

	half := ops.Div(reading, 2)
	res, err := sensors.Exec(ctx, "s1", tx.Of(half))
	fmt.Println(half.Result(res))
	fmt.Println(err)

	// by zero: rapyer.ErrInvalid, and nothing written
	_, err = sensors.Exec(ctx, "s1", tx.Of(ops.Div(reading, 0)))
	s, _ := sensors.Get(ctx, "s1")
	fmt.Println(errors.Is(err, rapyer.ErrInvalid), s.Reading)
	// Output:
	// 3.5 <nil>
	// <nil>
	// true 3.5
}
