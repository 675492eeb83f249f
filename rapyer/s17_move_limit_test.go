package rapyer_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// mvJob has a list that no index reads (Queue, Floats) and its indexed
// twin (Done, Scores): ops.Move carries an element from one to the other.
type mvJob struct {
	Queue  []string
	Done   []string
	Floats []float64
	Scores []float64
}

var (
	mvQueue  = lens.Of(func(j *mvJob) *[]string { return &j.Queue })
	mvDone   = lens.Of(func(j *mvJob) *[]string { return &j.Done })
	mvFloats = lens.Of(func(j *mvJob) *[]float64 { return &j.Floats })
	mvScores = lens.Of(func(j *mvJob) *[]float64 { return &j.Scores })
)

// TestAMoveIntoAnIndexedListKeepsTheValueLimits: ops.Move of an element
// from a list no index reads into an indexed one gives the index that
// element, so it passes the checks every other write of an indexed value
// passes: longer than 1024 bytes fails with ErrTooLarge, a NaN with
// ErrInvalid, and nothing is written; the element the move would carry
// is the one at its end when the move runs, after the batch's earlier ops
// on the source list (pushes, pops, another Move, a Clear). Before, the
// move skipped the checks and indexed the long value (and left a NaN
// out of the index, so a query of the list's elements missed it).
func TestAMoveIntoAnIndexedListKeepsTheValueLimits(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		opts := rapyer.Options{Prefix: b.Prefix + "mvj", Indexes: []index.Spec{index.Members(mvDone), index.Members(mvScores)}}
		m, err := rapyer.New[mvJob](b.Client, opts)
		if err != nil {
			t.Fatal(err)
		}
		o := ixcheck.MustNew[mvJob](t, b.Client, opts.Prefix, 16, opts.Indexes, m.IDs)
		long := strings.Repeat("x", 1025)
		start := mvJob{Queue: []string{long, "ok", "fine", long}, Floats: []float64{math.NaN(), 1.5}}
		if err := m.Save(ctx, "j", start); err != nil {
			t.Fatal(err)
		}
		refused := func(what string, want error, batch tx.Batch) {
			t.Helper()
			_, err := m.Exec(ctx, "j", batch)
			if !errors.Is(err, want) {
				t.Fatalf("%s: %v, want %v", what, err, want)
			}
			got, err := m.Get(ctx, "j")
			if err != nil || len(got.Queue) != 4 || len(got.Done) != 0 || len(got.Floats) != 2 || len(got.Scores) != 0 {
				t.Fatalf("%s wrote: %+v %v", what, got, err)
			}
			o.Check(t, what)
		}
		refused("a long first element", rapyer.ErrTooLarge, tx.Of(ops.Move(mvQueue, ops.First, mvDone, ops.Last)))
		refused("a long last element", rapyer.ErrTooLarge, tx.Of(ops.Move(mvQueue, ops.Last, mvDone, ops.First)))
		refused("a NaN", rapyer.ErrInvalid, tx.Of(ops.Move(mvFloats, ops.First, mvScores, ops.Last)))
		refused("a long element pushed first", rapyer.ErrTooLarge,
			tx.Of(ops.PopLast(mvQueue), ops.Append(mvQueue, long), ops.Move(mvQueue, ops.Last, mvDone, ops.Last)))
		refused("the long element a pop uncovers", rapyer.ErrTooLarge,
			tx.Of(ops.PopLast(mvQueue), ops.PopLast(mvQueue), ops.PopLast(mvQueue), ops.Move(mvQueue, ops.Last, mvDone, ops.Last)))
		refused("a long element after a clear", rapyer.ErrTooLarge,
			tx.Of(ops.Clear(mvQueue), ops.Prepend(mvQueue, long), ops.Move(mvQueue, ops.First, mvDone, ops.Last)))
		refused("a long element moved twice", rapyer.ErrTooLarge,
			tx.Of(ops.Move(mvQueue, ops.First, mvQueue, ops.Last), ops.Move(mvQueue, ops.Last, mvDone, ops.Last)))
		refused("a long element after a PopAt", rapyer.ErrTooLarge,
			tx.Of(ops.PopAt(mvQueue, 1), ops.Move(mvQueue, ops.First, mvDone, ops.Last)))

		// what the checks let through is moved and indexed
		if _, err := m.Exec(ctx, "j", tx.Of(ops.PopFirst(mvQueue), ops.Move(mvQueue, ops.First, mvDone, ops.Last),
			ops.PopFirst(mvFloats), ops.Move(mvFloats, ops.First, mvScores, ops.Last))); err != nil {
			t.Fatal(err)
		}
		got, err := m.Get(ctx, "j")
		if err != nil || len(got.Done) != 1 || got.Done[0] != "ok" || len(got.Scores) != 1 || got.Scores[0] != 1.5 {
			t.Fatalf("the moves that pass: %+v %v", got, err)
		}
		o.Check(t, "after the moves")
	})
}
