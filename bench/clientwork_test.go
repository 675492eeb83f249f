package bench_test

// The client's own work per op (issue #13, docs/performance.md "Session 9:
// Get and Save on the client"), without the socket, the server or the
// scheduler: a side runs first against a real redis-server through a
// connection that records each command's reply, then against the same
// connection answering every command with the reply it recorded for it.
// What is left to time is go-redis's and the library's work on the
// client's CPU, the same bytes in and out as on the wire.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// tape holds the replies recorded per command, and whether the connections
// answer from it (replay) or go to the server (record).
type tape struct {
	mu      sync.Mutex
	replies map[string][]byte
	replay  bool
	file    string // where the tape is kept between runs, if anywhere
}

// tapeKey names a command for the tape, in buf: its name and first
// argument (the key of an HGETALL, the script of an EVALSHA).
func tapeKey(buf, name, arg []byte) []byte {
	buf = append(buf[:0], name...)
	for i, c := range buf {
		if 'A' <= c && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	buf = append(buf, ' ')
	return append(buf, arg...)
}

// tapeConn is one client connection on the tape: in record mode it passes
// bytes to and from the server and files each reply under its command; in
// replay mode it answers each command it is written from the tape.
type tapeConn struct {
	net.Conn
	t       *tape
	in      []byte // written bytes not yet a whole command
	key     []byte // the tape key of the last command
	out     []byte // replay: replies, read up to outAt
	outAt   int
	got     []byte   // record: read bytes not yet a whole reply
	pending []string // record: commands sent, replies not yet filed
}

func (t *tape) dialer(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		t.mu.Lock()
		replay := t.replay
		t.mu.Unlock()
		if replay {
			// Never written nor read: the tape answers.
			c, _ := net.Pipe()
			return &tapeConn{Conn: c, t: t}, nil
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &tapeConn{Conn: c, t: t}, nil
	}
}

func (c *tapeConn) Write(p []byte) (int, error) {
	c.in = append(c.in, p...)
	at := 0
	for {
		k, n, ok := readCommand(c.key, c.in[at:])
		if !ok {
			break
		}
		c.key, at = k, at+n
		if err := c.sent(k); err != nil {
			return 0, err
		}
	}
	c.in = c.in[:copy(c.in, c.in[at:])]
	c.t.mu.Lock()
	replay := c.t.replay
	c.t.mu.Unlock()
	if replay {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// sent files one whole command written: queued for its reply, or answered.
func (c *tapeConn) sent(k []byte) error {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	if !c.t.replay {
		c.pending = append(c.pending, string(k))
		return nil
	}
	r, ok := c.t.replies[string(k)]
	if !ok {
		return fmt.Errorf("tape: no reply recorded for %q", k)
	}
	c.out = append(c.out, r...)
	return nil
}

func (c *tapeConn) Read(p []byte) (int, error) {
	c.t.mu.Lock()
	replay := c.t.replay
	c.t.mu.Unlock()
	if replay {
		if c.outAt == len(c.out) {
			return 0, errors.New("tape: read with no reply due")
		}
		n := copy(p, c.out[c.outAt:])
		c.outAt += n
		if c.outAt == len(c.out) {
			c.out, c.outAt = c.out[:0], 0
		}
		return n, nil
	}
	n, err := c.Conn.Read(p)
	c.got = append(c.got, p[:n]...)
	for len(c.pending) > 0 {
		m, ok := skipReply(c.got, 0)
		if !ok {
			break
		}
		c.t.mu.Lock()
		c.t.replies[c.pending[0]] = bytes.Clone(c.got[:m])
		c.t.mu.Unlock()
		c.pending, c.got = c.pending[1:], c.got[m:]
	}
	return n, err
}

// The deadlines of a replayed connection are never reached: no call waits.
func (c *tapeConn) SetDeadline(t time.Time) error { return c.setDeadline(c.Conn.SetDeadline, t) }
func (c *tapeConn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(c.Conn.SetReadDeadline, t)
}
func (c *tapeConn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(c.Conn.SetWriteDeadline, t)
}

func (c *tapeConn) setDeadline(set func(time.Time) error, t time.Time) error {
	c.t.mu.Lock()
	replay := c.t.replay
	c.t.mu.Unlock()
	if replay {
		return nil
	}
	return set(t)
}

// line is the text of the RESP line starting at at, and where the next
// starts.
func line(b []byte, at int) (string, int, bool) {
	i := bytes.Index(b[at:], []byte("\r\n"))
	if i < 0 {
		return "", 0, false
	}
	return unsafe.String(unsafe.SliceData(b[at:]), i), at + i + 2, true
}

// readCommand reads one command (an array of bulk strings) from the head
// of b: its tape key (in buf) and its length in bytes.
func readCommand(buf, b []byte) ([]byte, int, bool) {
	if len(b) == 0 || b[0] != '*' {
		return nil, 0, false
	}
	head, at, ok := line(b, 1)
	n, err := strconv.Atoi(head)
	if !ok || err != nil {
		return nil, 0, false
	}
	var words [2][]byte
	for i := range n {
		head, next, ok := line(b, at+1)
		size, err := strconv.Atoi(head)
		if !ok || err != nil || next+size+2 > len(b) {
			return nil, 0, false
		}
		if i < len(words) {
			words[i] = b[next : next+size]
		}
		at = next + size + 2
	}
	return tapeKey(buf, words[0], words[1]), at, true
}

// skipReply is where the RESP reply starting at at ends.
func skipReply(b []byte, at int) (int, bool) {
	if at >= len(b) {
		return 0, false
	}
	kind := b[at]
	head, next, ok := line(b, at+1)
	if !ok {
		return 0, false
	}
	switch kind {
	case '+', '-', ':', ',', '#', '_', '(':
		return next, true
	case '$', '=', '!':
		n, _ := strconv.Atoi(head)
		if n < 0 {
			return next, true
		}
		return next + n + 2, next+n+2 <= len(b)
	}
	n, _ := strconv.Atoi(head)
	if kind == '%' || kind == '|' {
		n *= 2
	}
	for range n {
		if next, ok = skipReply(b, next); !ok {
			return 0, false
		}
	}
	return next, true
}

// tapeEnv is an env whose client's connections are on a tape, recording
// until startReplay is called. With RAPYER_TAPE naming a file that exists
// the tape is read from it and replays from the start, with no server (the
// process then does nothing but the client's work, for counting its
// instructions); naming a file that does not exist, startReplay writes the
// tape there.
func tapeEnv(tb testing.TB) (*env, *tape) {
	t := &tape{replies: map[string][]byte{}, file: os.Getenv("RAPYER_TAPE")}
	if b, err := os.ReadFile(t.file); err == nil {
		must(tb, json.Unmarshal(b, &t.replies))
		t.replay = true
		rdb := redis.NewClient(&redis.Options{Addr: "tape:0", Dialer: t.dialer("")})
		tb.Cleanup(func() { _ = rdb.Close() })
		return &env{ctx: tb.Context(), rdb: rdb}, t
	}
	e := newEnv(tb)
	rdb := redis.NewClient(&redis.Options{Addr: e.srv.Addr(), Dialer: t.dialer(e.srv.Addr())})
	tb.Cleanup(func() { _ = rdb.Close() })
	return &env{ctx: e.ctx, rdb: rdb, srv: e.srv}, t
}

// startReplay turns every connection of the tape to its replies, and
// writes the tape to its file if it has one.
func (t *tape) startReplay(tb testing.TB) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.file != "" && !t.replay {
		b, err := json.Marshal(t.replies)
		must(tb, err)
		must(tb, os.WriteFile(t.file, b, 0o600))
	}
	t.replay = true
}

// BenchmarkClientWork runs each side of the Get and Save rows of the peer
// table with the server's replies played back from a tape (see above):
// the client's CPU per op and its allocations, with no socket in the way.
// Rounds alternate the order of the sides.
//
//	go test -run '^$' -bench BenchmarkClientWork -benchmem -count 5 ./bench/
func BenchmarkClientWork(b *testing.B) {
	e, t := tapeEnv(b)
	sides := []namedSide{
		{"Get/rapyer", getItemRapyer(b, e)}, {"Get/om_Fetch_twin", getItemOm(b, e)},
		{"Save/rapyer", saveItemRapyer(b, e)}, {"Save/om_Save_twin", saveItemOm(b, e)},
	}
	replaySides(b, t, sides)
}

// TestTapeReplaysTheServer holds the tape to what BenchmarkClientWork
// needs of it: replayed, each side's op still reads and writes what it
// checks (the Get sides compare the value read with the one saved),
// nothing reaches the server, and a command the tape never saw fails
// instead of being answered.
func TestTapeReplaysTheServer(t *testing.T) {
	e, tp := tapeEnv(t)
	sides := []prepared{getItemRapyer(t, e), getItemOm(t, e), saveItemRapyer(t, e), saveItemOm(t, e)}
	for _, p := range sides {
		warm(t, p)
	}
	watch := e.srv.Client(t)
	before := commandsProcessed(t, watch)
	tp.startReplay(t)
	for i, p := range sides {
		for range 50 {
			if err := p.op(); err != nil {
				t.Fatalf("side %d replayed: %v", i, err)
			}
		}
	}
	if err := e.rdb.Get(e.ctx, "never-sent").Err(); err == nil || !strings.Contains(err.Error(), "no reply recorded") {
		t.Errorf("a command the tape never saw gave %v, want the tape's refusal", err)
	}
	// INFO on watch is itself one command.
	if after := commandsProcessed(t, watch); after != before+1 {
		t.Errorf("the server processed %d commands during the replay, want none", after-before-1)
	}
}

// commandsProcessed is the server's total_commands_processed.
func commandsProcessed(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	info, err := rdb.Info(t.Context(), "stats").Result()
	must(t, err)
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "total_commands_processed:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			must(t, err)
			return n
		}
	}
	t.Fatal("no total_commands_processed in INFO stats")
	return 0
}

// BenchmarkLockClientWork is BenchmarkClientWork of the model Lock cycle,
// ours and the hand-written one (docs/performance.md "Session 10: the
// model Lock cycle"): the client's CPU and allocations per cycle with the
// server's replies played back from a tape.
//
//	go test -run '^$' -bench BenchmarkLockClientWork -benchmem -count 5 ./bench/
func BenchmarkLockClientWork(b *testing.B) {
	e, t := tapeEnv(b)
	sides := []namedSide{{"Lock/rapyer", modelLockRapyer(b, e)}, {"Lock/hand", modelLockHand(b, e)}}
	replaySides(b, t, sides)
}

// BenchmarkWithdrawClientWork is BenchmarkClientWork of the conditional
// withdrawal, ours (one EVALSHA) and the go-redis WATCH loop (WATCH, GET,
// MULTI DECRBY EXEC, UNWATCH): the client's CPU and allocations per
// withdrawal with the server's replies played back from a tape
// (docs/performance.md "Session 11: the withdrawal").
//
//	go test -run '^$' -bench BenchmarkWithdrawClientWork -benchmem -count 5 ./bench/
func BenchmarkWithdrawClientWork(b *testing.B) {
	e, t := tapeEnv(b)
	sides := []namedSide{{"Withdraw/rapyer", withdrawRapyer(b, e)}, {"Withdraw/WATCH_loop", withdrawHand(b, e)}}
	replaySides(b, t, sides)
}

// replaySides warms every side on the live server (recording the tape),
// then runs each as a sub-benchmark with the server's replies played back.
func replaySides(b *testing.B, t *tape, sides []namedSide) {
	for _, s := range sides {
		warm(b, s.p)
	}
	t.startReplay(b)
	for _, s := range sides {
		warm(b, s.p)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.p.op(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUncontendedLockClientWork is BenchmarkClientWork of the
// uncontended lock cycle (acquire + release) of the peer table: the lock
// package's, fenced and without a fence, and redislock's: the client's CPU
// and allocations per cycle with the server's replies played back from a
// tape (docs/performance.md "Session 18: the uncontended lock").
//
//	go test -run '^$' -bench BenchmarkUncontendedLockClientWork -benchmem -count 5 ./bench/
func BenchmarkUncontendedLockClientWork(b *testing.B) {
	e, t := tapeEnv(b)
	sides := []namedSide{{"lock/rapyer", lockOnce(b, e)}, {"lock/rapyer_nofence", lockOnceNoFence(b, e)},
		{"lock/redislock", lockRedislock(b, e)}}
	replaySides(b, t, sides)
}
