package tx_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/faultproxy"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
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
	proxy := faultproxy.Start(t, b.Addrs[0])
	rdb := b.NewClient(t, func(o *redis.UniversalOptions) { o.Addrs = []string{proxy.Addr()} })
	for _, record := range []time.Duration{tx.NoRecord, 0} {
		m := rapyer.MustNew[Flat](rdb, rapyer.Options{Prefix: b.Prefix + "lockflat", Exec: tx.Options{Record: record}})
		root := m.Target("lost").Root()
		if err := m.Save(ctx, "lost", flatValues()[1]); err != nil {
			t.Fatal(err)
		}
		bump := func(_ context.Context, v *Flat) error { v.Age++; return nil }
		// one cycle through the shape, to see what the save sends
		counter := testenv.CountRoundTrips(rdb)
		if _, err := m.Lock(ctx, "lost", "bump", bump); err != nil {
			t.Fatal(err)
		}
		// the acquire and HGETALL, then the save alone (EVAL the first
		// time, which caches the script); no MULTI/EXEC anywhere
		if got := counter.Commands(); len(got) < 2 || slices.Contains(got, "multi") || slices.Contains(got, "exec") ||
			!slices.Contains([]string{"evalsha", "eval"}, got[len(got)-1]) {
			t.Fatalf("record %v: a model lock cycle sent %v, want its save as one EVALSHA", record, got)
		}
		settled0, _ := transport.ShapeRuns()
		dropped := proxy.DropReplyTo("EVALSHA", "EVAL")
		_, err := m.Lock(ctx, "lost", "bump", bump)
		select {
		case <-dropped:
		case <-time.After(10 * time.Second):
			t.Fatal("the proxy never dropped a reply")
		}
		switch {
		case record == tx.NoRecord && !errors.Is(err, rapyer.ErrUnknownOutcome):
			t.Fatalf("a lost reply without a record: %v, want ErrUnknownOutcome", err)
		case record == 0 && err != nil:
			t.Fatalf("a lost reply with a record: %v", err)
		}
		got, err := m.Get(ctx, "lost")
		if err != nil {
			t.Fatal(err)
		}
		if got.Age != flatValues()[1].Age+2 {
			t.Fatalf("record %v: Age %d after two cycles from %d, want it saved once each", record, got.Age, flatValues()[1].Age)
		}
		if n := b.Client.Exists(ctx, root+":lock:bump").Val(); n != 0 {
			t.Fatalf("record %v: the lock is still held", record)
		}
		if settled, _ := transport.ShapeRuns(); record == 0 && settled == settled0 {
			t.Fatal("the resend did not settle on the compiled shape")
		}
	}
}
