package transport_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
)

// recorded is a program of a compiled shape with a record: an Incr, an
// HSet and an AppendText of text.
func recorded(t *testing.T, root, id, text string) *prog.Program {
	b := prog.NewBuilder()
	b.Declare(target(t, root), prog.Need)
	b.Incr(root, "n", "1", "-9223372036854775808", "9223372036854775807")
	b.HSet(root, "s", "a")
	b.AppendText(root, "s", text)
	return b.Build(prog.Header{ID: id, Record: "tx{d}:" + id, RecordMS: 10000})
}

// TestShapeAndInterpreterAnswerEachOthersResends: the record of a batch
// run on its compiled shape answers a resend run by the interpreter, and
// the reverse, with the first run's results; results too large to keep
// are reported so both ways.
func TestShapeAndInterpreterAnswerEachOthersResends(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		root := b.Prefix + "doc:{d}"
		if err := b.Client.HSet(ctx, root, "__v", "1", "n", "5").Err(); err != nil {
			t.Fatal(err)
		}
		for i, text := range []string{"b", strings.Repeat("z", 2000)} {
			for _, shapeFirst := range []bool{true, false} {
				id := b.Prefix + "r" + string(rune('a'+i)) + map[bool]string{true: "s", false: "i"}[shapeFirst]
				p := recorded(t, root, id, text)
				settled0, _ := transport.ShapeRuns()
				first, second := transport.RunTx, transport.Run
				if !shapeFirst {
					first, second = transport.Run, transport.RunTx
				}
				r1, err := first(ctx, b.Client, p)
				if err != nil {
					t.Fatal(err)
				}
				r2, err := second(ctx, b.Client, recorded(t, root, id, text))
				if err != nil {
					t.Fatal(err)
				}
				if settled, _ := transport.ShapeRuns(); settled != settled0+1 {
					t.Fatalf("%d calls settled on the shape, want 1", settled-settled0)
				}
				want := append([]any{"DUP"}, r1.([]any)[1:]...)
				if i == 1 {
					want = []any{"DUPX"}
				}
				if diff := cmp.Diff(want, r2); diff != "" {
					t.Fatalf("text %d, shape first %v: the resend's reply (-want +got):\n%s", i, shapeFirst, diff)
				}
			}
		}
	})
}
