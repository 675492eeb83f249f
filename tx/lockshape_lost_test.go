package tx_test

import (
	"context"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// A model lock's save, compiled, goes as one EVALSHA that go-redis never
// resends (no MULTI/EXEC around it), and a lost reply is not resent: a
// resend would find the lock it released gone and fail with ErrLockLost.
// Without a record the caller learns ErrUnknownOutcome; with one, Exec's
// resend is answered from the record. The save is applied once either way.
// (The real server only: there the acquire is an FCALL, so the proxy drops
// the reply of the save alone.)
func TestLockSaveLostReplyIsNotResent(t *testing.T) {
	b := testenv.On(t, testenv.Server)
	ctx := context.Background()
	eachRecordLosingReply(t, b, func(t *testing.T, c *lostReply) {
		m := rapyer.MustNew[Flat](c.rdb, rapyer.Options{Prefix: b.Prefix + "lockflat", Exec: tx.Options{Record: c.record}})
		if err := m.Save(ctx, "lost", flatValues()[1]); err != nil {
			t.Fatal(err)
		}
		bump := func(_ context.Context, v *Flat) error { v.Age++; return nil }
		// one cycle through the shape, to see what the save sends
		counter := testenv.CountRoundTrips(c.rdb)
		if _, err := m.Lock(ctx, "lost", "bump", bump); err != nil {
			t.Fatal(err)
		}
		// the acquire and HGETALL, then the save alone (EVAL the first
		// time, which caches the script); no MULTI/EXEC anywhere
		if got := counter.Commands(); len(got) < 2 || slices.Contains(got, "multi") || slices.Contains(got, "exec") ||
			!slices.Contains([]string{"evalsha", "eval"}, got[len(got)-1]) {
			t.Fatalf("a model lock cycle sent %v, want its save as one EVALSHA", got)
		}
		c.send(t, func() error { _, err := m.Lock(ctx, "lost", "bump", bump); return err })
		got, err := m.Get(ctx, "lost")
		if err != nil {
			t.Fatal(err)
		}
		if got.Age != flatValues()[1].Age+2 {
			t.Fatalf("Age %d after two cycles from %d, want it saved once each", got.Age, flatValues()[1].Age)
		}
		lockReleased(t, b, m.Target("lost").Root(), "bump")
		c.resentOnShape(t)
	})
}
