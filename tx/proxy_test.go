package tx_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/faultproxy"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// proxied is a client of a backend whose connection goes through a fault
// proxy, for the tests that lose a reply on its way back.
type proxied struct {
	proxy *faultproxy.Proxy
	rdb   redis.UniversalClient
}

// throughProxy starts a fault proxy to b's first node and a client of b
// through it; tweak, if any, changes the client's options after that.
func throughProxy(t *testing.T, b *testenv.Backend, tweak ...func(*redis.UniversalOptions)) proxied {
	proxy := faultproxy.Start(t, b.Addrs[0])
	rdb := b.NewClient(t, func(o *redis.UniversalOptions) {
		o.Addrs = []string{proxy.Addr()}
		for _, f := range tweak {
			f(o)
		}
	})
	return proxied{proxy: proxy, rdb: rdb}
}

// loseReply calls send with the proxy set to drop the reply to the next
// request that matches cmd or one of more, waits (10 seconds at the most)
// for the drop, and returns send's error.
func (p proxied) loseReply(t *testing.T, send func() error, cmd string, more ...string) error {
	t.Helper()
	dropped := p.proxy.DropReplyTo(cmd, more...)
	err := send()
	select {
	case <-dropped:
	case <-time.After(10 * time.Second):
		t.Fatal("the proxy never dropped a reply")
	}
	return err
}

// lostReply is one run of eachRecordLosingReply: a client through a fault
// proxy, and the batch record's lifetime its model is given.
type lostReply struct {
	proxied
	record   time.Duration
	settled0 int64
}

// eachRecordLosingReply is the pattern of a call that goes as one command
// go-redis never resends (EVALSHA or EVAL, no MULTI/EXEC) whose reply is
// lost: it runs body once without a batch record (tx.NoRecord) and once
// with the default one, on one client of b through a fault proxy. body
// makes its model with Exec: tx.Options{Record: c.record}, sends the call
// by c.send and checks that the call was applied once.
func eachRecordLosingReply(t *testing.T, b *testenv.Backend, body func(t *testing.T, c *lostReply)) {
	p := throughProxy(t, b)
	for _, c := range []struct {
		name   string
		record time.Duration
	}{{"no record", tx.NoRecord}, {"a record", 0}} {
		t.Run(c.name, func(t *testing.T) { body(t, &lostReply{proxied: p, record: c.record}) })
	}
}

// send calls call with the reply to its EVALSHA or EVAL lost and checks
// what the caller learns: rapyer.ErrUnknownOutcome without a record, no
// error with one (Exec resends and the record answers).
func (c *lostReply) send(t *testing.T, call func() error) {
	t.Helper()
	c.settled0, _ = transport.ShapeRuns()
	err := c.loseReply(t, call, "EVALSHA", "EVAL")
	switch {
	case c.record == tx.NoRecord && !errors.Is(err, rapyer.ErrUnknownOutcome):
		t.Fatalf("a lost reply without a record: %v, want ErrUnknownOutcome", err)
	case c.record != tx.NoRecord && err != nil:
		t.Fatalf("a lost reply with a record: %v", err)
	}
}

// resentOnShape checks that, with a record, the resend after send went by
// a compiled shape (transport.ShapeRuns counted a call that settled).
func (c *lostReply) resentOnShape(t *testing.T) {
	t.Helper()
	if settled, _ := transport.ShapeRuns(); c.record != tx.NoRecord && settled == c.settled0 {
		t.Fatal("the resend did not settle on the compiled shape")
	}
}

// lockReleased checks that the model lock name of the model at root is no
// longer held.
func lockReleased(t *testing.T, b *testenv.Backend, root, name string) {
	t.Helper()
	if n := b.Client.Exists(context.Background(), root+":lock:"+name).Val(); n != 0 {
		t.Fatalf("the lock %s is still held", name)
	}
}
