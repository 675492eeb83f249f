package faultproxy_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/faultproxy"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// eachTarget runs f against miniredis and against a private redis-server,
// with a client that talks to the server directly.
func eachTarget(t *testing.T, f func(t *testing.T, addr string, direct redis.UniversalClient)) {
	t.Run("miniredis", func(t *testing.T) {
		b := testenv.On(t, testenv.Mini)
		f(t, b.Addrs[0], b.Client)
	})
	t.Run("redis", func(t *testing.T) {
		s := testenv.StartServer(t)
		f(t, s.Addr(), s.Client(t))
	})
}

// client returns a go-redis client to the proxy, closed when t ends.
func client(t *testing.T, p *faultproxy.Proxy, opts redis.Options) *redis.Client {
	opts.Addr = p.Addr()
	c := redis.NewClient(&opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// wait fails t unless ch is closed within 30s.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not happen within 30s", what)
	}
}

func TestForwards(t *testing.T) {
	eachTarget(t, func(t *testing.T, addr string, direct redis.UniversalClient) {
		ctx := t.Context()
		p := faultproxy.Start(t, addr)
		c := client(t, p, redis.Options{})
		big := strings.Repeat("x", 1<<20) // far more than one read
		if err := c.Set(ctx, "big", big, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := c.Get(ctx, "big").Result(); err != nil || got != big {
			t.Fatalf("GET big: %d bytes, %v; want %d bytes", len(got), err, len(big))
		}
		cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for range 2000 {
				p.Incr(ctx, "n")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if last := cmds[len(cmds)-1].(*redis.IntCmd).Val(); last != 2000 {
			t.Fatalf("last INCR of the pipeline = %d, want 2000", last)
		}
		if n, err := direct.Get(ctx, "n").Int(); err != nil || n != 2000 {
			t.Fatalf("server holds n = %d, %v; want 2000", n, err)
		}
	})
}

// TestDropReplyTo pins down what DESIGN 5.7 measured: a request whose reply
// is lost is applied twice by go-redis's blind retries, unless it is a
// MULTI/EXEC transaction, or retries are off; then the caller gets an error.
func TestDropReplyTo(t *testing.T) {
	incr := redis.NewScript(`return redis.call("INCR", KEYS[1])`)
	for _, tc := range []struct {
		name       string
		match      string
		maxRetries int
		send       func(ctx context.Context, c *redis.Client) error
		wantErr    bool
		wantCount  int
	}{
		{"INCR without retries", "INCR", -1, func(ctx context.Context, c *redis.Client) error {
			return c.Incr(ctx, "n").Err()
		}, true, 1},
		{"INCR with default retries applies twice", "INCR", 0, func(ctx context.Context, c *redis.Client) error {
			return c.Incr(ctx, "n").Err()
		}, false, 2},
		{"pipeline with default retries applies twice", "INCR", 0, func(ctx context.Context, c *redis.Client) error {
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Incr(ctx, "n")
				p.Get(ctx, "n")
				return nil
			})
			return err
		}, false, 2},
		{"EVALSHA with default retries applies twice", "EVALSHA", 0, func(ctx context.Context, c *redis.Client) error {
			return incr.Run(ctx, c, []string{"n"}).Err()
		}, false, 2},
		{"MULTI/EXEC with default retries applies once and fails", "EXEC", 0, func(ctx context.Context, c *redis.Client) error {
			_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Incr(ctx, "n")
				return nil
			})
			return err
		}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachTarget(t, func(t *testing.T, addr string, direct redis.UniversalClient) {
				ctx := t.Context()
				// The script is cached first, so Run sends EVALSHA and no EVAL.
				if err := incr.Load(ctx, direct).Err(); err != nil {
					t.Fatal(err)
				}
				p := faultproxy.Start(t, addr)
				c := client(t, p, redis.Options{MaxRetries: tc.maxRetries})
				if err := c.Ping(ctx).Err(); err != nil { // connect before arming
					t.Fatal(err)
				}
				dropped := p.DropReplyTo(tc.match)

				err := tc.send(ctx, c)
				wait(t, dropped, "the drop")
				if (err != nil) != tc.wantErr {
					t.Errorf("error = %v, want an error: %v", err, tc.wantErr)
				}
				if n, err := direct.Get(ctx, "n").Int(); err != nil || n != tc.wantCount {
					t.Errorf("the server counted %d (%v), want %d", n, err, tc.wantCount)
				}
			})
		})
	}
}

func TestDropReplyToIsOneShotAndSparesOtherRequests(t *testing.T) {
	eachTarget(t, func(t *testing.T, addr string, direct redis.UniversalClient) {
		ctx := t.Context()
		p := faultproxy.Start(t, addr)
		c := client(t, p, redis.Options{MaxRetries: -1, PoolSize: 1})
		dropped := p.DropReplyTo("incr")
		if err := c.Set(ctx, "n", "10", 0).Err(); err != nil {
			t.Fatalf("a request that does not match was hit: %v", err)
		}
		select {
		case <-dropped:
			t.Fatal("the arm fired on SET")
		default:
		}
		if err := c.Incr(ctx, "n").Err(); err == nil {
			t.Fatal("INCR got its reply")
		}
		wait(t, dropped, "the drop")
		if n, err := c.Incr(ctx, "n").Result(); err != nil || n != 12 {
			t.Fatalf("second INCR = %d, %v; want 12: the arm fires once", n, err)
		}
	})
}

func TestDropReplyToOfAPipelineKeepsEarlierReplies(t *testing.T) {
	eachTarget(t, func(t *testing.T, addr string, direct redis.UniversalClient) {
		ctx := t.Context()
		p := faultproxy.Start(t, addr)
		// Raw RESP, to see exactly what comes back.
		conn, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		dropped := p.DropReplyTo("EXEC")
		if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, err := conn.Read(buf)
		if err != nil || string(buf[:n]) != "+PONG\r\n" {
			t.Fatalf("PING through the armed proxy: %q, %v", buf[:n], err)
		}
		tx := "*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*1\r\n$4\r\nEXEC\r\n"
		if _, err := conn.Write([]byte(tx)); err != nil {
			t.Fatal(err)
		}
		wait(t, dropped, "the drop")
		var got []byte
		for {
			n, err := conn.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		if len(got) != 0 {
			t.Errorf("the client got %q after the matched request; want nothing", got)
		}
		if v, err := direct.Get(ctx, "n").Int(); err != nil || v != 1 {
			t.Errorf("the server holds n = %d, %v; want 1", v, err)
		}
	})
}

func TestCutAll(t *testing.T) {
	eachTarget(t, func(t *testing.T, addr string, _ redis.UniversalClient) {
		ctx := t.Context()
		p := faultproxy.Start(t, addr)
		conns := make([]net.Conn, 3)
		for i := range conns {
			conn, err := net.Dial("tcp", p.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(conn, make([]byte, len("+PONG\r\n"))); err != nil {
				t.Fatal(err)
			}
			conns[i] = conn
		}
		p.CutAll()
		for i, conn := range conns {
			if n, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Errorf("connection %d after CutAll: read %d bytes, %v; want EOF", i, n, err)
			}
		}
		c := client(t, p, redis.Options{MaxRetries: -1})
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatalf("PING on a new connection after CutAll: %v", err)
		}
	})
}

func TestRefuse(t *testing.T) {
	eachTarget(t, func(t *testing.T, addr string, _ redis.UniversalClient) {
		ctx := t.Context()
		p := faultproxy.Start(t, addr)
		p.Refuse(true)
		c := client(t, p, redis.Options{MaxRetries: -1, DialerRetries: 1})
		if err := c.Ping(ctx).Err(); err == nil {
			t.Fatal("PING through a refusing proxy succeeded")
		}
		p.Refuse(false)
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatalf("PING after Refuse(false): %v", err)
		}
	})
}

func TestSetDelay(t *testing.T) {
	eachTarget(t, func(t *testing.T, addr string, _ redis.UniversalClient) {
		ctx := t.Context()
		p := faultproxy.Start(t, addr)
		c := client(t, p, redis.Options{MaxRetries: -1})
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		// A delay far beyond the client's read timeout: the reply is late.
		p.SetDelay(time.Minute)
		slow := client(t, p, redis.Options{MaxRetries: -1, ReadTimeout: 100 * time.Millisecond})
		err := slow.Ping(ctx).Err()
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("PING with a one-minute delay = %v, want a timeout", err)
		}
		p.SetDelay(0)
		p.CutAll() // the delayed chunks wait on cut connections no more
		if err := c.Ping(ctx).Err(); err != nil {
			// The pooled connection was cut; one failure is fine.
			if err := c.Ping(ctx).Err(); err != nil {
				t.Fatalf("PING after SetDelay(0): %v", err)
			}
		}
	})
}

func TestCloseStopsEveryGoroutine(t *testing.T) {
	eachTarget(t, func(t *testing.T, addr string, _ redis.UniversalClient) {
		before := goleak.IgnoreCurrent()
		p := faultproxy.Start(t, addr)
		// Raw connections, so that only the proxy's goroutines are in play.
		var conns []net.Conn
		for range 4 {
			conn, err := net.Dial("tcp", p.Addr())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, conn)
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(conn, make([]byte, len("+PONG\r\n"))); err != nil {
				t.Fatal(err)
			}
		}
		p.DropReplyTo("never sent")
		p.SetDelay(time.Hour)
		// A request that now waits in the proxy, in the hour-long delay.
		if _, err := conns[0].Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
			t.Fatal(err)
		}
		p.Close()
		p.Close() // twice is fine
		for _, conn := range conns {
			_ = conn.Close()
		}
		if conn, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
			conn.Close()
			t.Error("a closed proxy accepted a connection")
		}
		goleak.VerifyNone(t, before)
	})
}
