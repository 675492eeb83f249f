package lock_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
)

// network holds back, on the first connection that writes it, every request
// that names a key: as a network that delays a request in a connection the
// client has given up and closed, and delivers it later. Release delivers
// what it held and returns the server's first reply line.
type network struct {
	mu      sync.Mutex
	key     []byte
	conn    *heldConn
	holding chan struct{}
}

// heldConn is a connection that may hold its writes back.
type heldConn struct {
	net.Conn
	n    *network
	hold bool
	held []byte
}

func (n *network) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &heldConn{Conn: c, n: n}, nil
}

func (c *heldConn) Write(b []byte) (int, error) {
	c.n.mu.Lock()
	if !c.hold && c.n.key != nil && c.n.conn == nil && bytes.Contains(b, c.n.key) {
		c.hold, c.n.conn = true, c
		close(c.n.holding)
	}
	hold := c.hold
	if hold {
		c.held = append(c.held, b...)
	}
	c.n.mu.Unlock()
	if hold {
		return len(b), nil // "sent": it is on its way
	}
	return c.Conn.Write(b)
}

// Close of the held connection leaves it open to the server: the request
// is still on its way.
func (c *heldConn) Close() error {
	c.n.mu.Lock()
	hold := c.hold
	c.n.mu.Unlock()
	if hold {
		return nil
	}
	return c.Conn.Close()
}

// deliver sends what the held connection held to the server, reads the
// reply's first line, and closes the connection.
func (n *network) deliver(t *testing.T) string {
	t.Helper()
	n.mu.Lock()
	c := n.conn
	n.mu.Unlock()
	defer func() { _ = c.Conn.Close() }()
	if err := c.Conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Conn.Write(c.held); err != nil {
		t.Fatalf("delivering the held request: %v", err)
	}
	line, err := bufio.NewReader(c.Conn).ReadString('\n')
	if err != nil {
		t.Fatalf("the reply to the held request: %v", err)
	}
	return line
}

// TestAcquireDelayedPastItsTTLTakesNothing: an Acquire whose request is
// held in the network (on a connection the client gives up and closes at
// its deadline) and delivered to the server long after the caller gave
// up, longer than the lock's TTL, does not take the lock: the give-up's
// void marker (which lives the TTL plus a minute) refuses it. Without the
// marker that request would take a lock nobody holds, for a TTL. For an
// Acquire that waits, one that does not, and one with a Load.
func TestAcquireDelayedPastItsTTLTakesNothing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for _, o := range []lock.Options{
			{TTL: 50 * time.Millisecond},
			{TTL: 50 * time.Millisecond, Wait: lock.NoWait},
			{TTL: 50 * time.Millisecond, Load: func(p redis.Pipeliner) { p.Get(context.Background(), "x") }},
		} {
			key := b.Prefix + "{delayed}:lock:a"
			n := &network{holding: make(chan struct{})}
			rdb := b.NewClient(t, func(u *redis.UniversalOptions) { u.Dialer, u.ContextTimeoutEnabled = n.dial, true })
			if err := rdb.Ping(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
			n.mu.Lock()
			n.key = []byte(key)
			n.mu.Unlock()
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			start := time.Now()
			l, err := lock.Acquire(ctx, rdb, key, o)
			cancel()
			t.Logf("Acquire: %v after %v", err, time.Since(start))
			if err == nil {
				t.Fatalf("Acquire with its request held: got the lock %v", l)
			}
			<-n.holding
			// Past the lock's TTL: a lock the held request took (had the
			// caller not given up) would have expired by now.
			time.Sleep(3 * o.TTL)
			start = time.Now()
			reply := n.deliver(t)
			t.Logf("deliver: %q after %v", reply, time.Since(start))
			if held, err := b.Client.Exists(t.Context(), key).Result(); err != nil || held != 0 {
				t.Fatalf("the held request (reply %q) took the lock after the caller gave up (%v): %d, %v", reply, err, held, err)
			}
			other, err := lock.Acquire(t.Context(), b.Client, key, lock.Options{Wait: lock.NoWait})
			if err != nil {
				t.Fatalf("another caller after the delayed request: %v", err)
			}
			if err := other.Release(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	})
}
