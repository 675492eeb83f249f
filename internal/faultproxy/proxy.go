package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards TCP connections from its own address to a target and injects
// faults on demand. Its methods are safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // cancelled by Close: stops dials and delays
	cancel context.CancelFunc

	delay  atomic.Int64 // time.Duration added before every forwarded chunk
	refuse atomic.Bool

	mu     sync.Mutex
	conns  map[*link]struct{}
	arms   []*arm
	closed bool

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// arm is one pending DropReplyTo.
type arm struct {
	match [][]byte // lower case; any of them
	done  chan struct{}
	once  sync.Once
}

func (a *arm) fire() { a.once.Do(func() { close(a.done) }) }

// Start starts a proxy for t that listens on a free port of 127.0.0.1 and
// forwards every connection it accepts to target ("host:port"). The proxy is
// closed when t ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := listen(target)
	if err != nil {
		t.Fatalf("faultproxy: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func listen(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{target: target, ln: ln, ctx: ctx, cancel: cancel, conns: make(map[*link]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the "host:port" clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// DropReplyTo arms the proxy once: the next request (what one read from a
// client connection brings: a command or a whole pipeline) whose bytes
// contain match or one of more, compared without regard to case ("EVALSHA",
// "EXEC", "INCR"),
// is forwarded to the server; the server's replies to that request are read
// and discarded; then that client connection is closed on both sides.
// Replies to earlier requests on the connection are delivered.
//
// The returned channel is closed once that has happened, or once the
// connection carrying the matched request ended otherwise (the server hung up
// before replying, [Proxy.CutAll], [Proxy.Close]). Arms fire in the order
// they were made, one per request.
func (p *Proxy) DropReplyTo(match string, more ...string) <-chan struct{} {
	a := &arm{done: make(chan struct{})}
	for _, m := range append([]string{match}, more...) {
		a.match = append(a.match, bytes.ToLower([]byte(m)))
	}
	p.mu.Lock()
	p.arms = append(p.arms, a)
	p.mu.Unlock()
	return a.done
}

// CutAll closes every open connection now, on both sides. New connections are
// still accepted.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// SetDelay delays every chunk forwarded from then on, in either direction, by
// d; 0 forwards at once.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Refuse makes the proxy close new connections as soon as it accepts them
// while on is true. Open connections are left alone; use [Proxy.CutAll].
func (p *Proxy) Refuse(on bool) { p.refuse.Store(on) }

// Close stops accepting, closes every connection and waits until every
// goroutine of the proxy has returned. It may be called more than once.
func (p *Proxy) Close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.cancel()
		_ = p.ln.Close()
		p.CutAll()
		p.wg.Wait()
	})
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if p.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a transient accept error
		}
		if p.refuse.Load() {
			_ = c.Close()
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve dials the target for client c and runs the two pumps.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	d := net.Dialer{Timeout: 10 * time.Second}
	server, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	l := &link{p: p, client: client, server: server, gone: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.close()
		return
	}
	p.conns[l] = struct{}{}
	p.mu.Unlock()

	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		l.replies()
	}()
	l.requests()
}

// claim returns the first arm whose match is in request, and disarms it.
func (p *Proxy) claim(request []byte) *arm {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.arms) == 0 {
		return nil
	}
	lower := bytes.ToLower(request)
	for i, a := range p.arms {
		for _, m := range a.match {
			if bytes.Contains(lower, m) {
				p.arms = append(p.arms[:i:i], p.arms[i+1:]...)
				return a
			}
		}
	}
	return nil
}

// link is one proxied connection: client side and server side.
type link struct {
	p              *Proxy
	client, server net.Conn
	gone           chan struct{} // closed by close
	closeOnce      sync.Once

	mu        sync.Mutex
	drop      *arm  // set when a request of this link matched an arm
	dropFrom  int64 // index of the first reply to discard
	dropUntil int64 // index after the last reply to discard
	raw       bool  // the stream could not be parsed: forward as is, drop nothing
}

// close closes both sides, forgets the link and fires its arm, if any.
func (l *link) close() {
	l.closeOnce.Do(func() {
		_ = l.client.Close()
		_ = l.server.Close()
		close(l.gone)
		l.p.mu.Lock()
		delete(l.p.conns, l)
		l.p.mu.Unlock()
		l.mu.Lock()
		a := l.drop
		l.mu.Unlock()
		if a != nil {
			a.fire()
		}
	})
}

// pause waits the proxy's delay; false when the link closed meanwhile.
func (l *link) pause() bool {
	d := time.Duration(l.p.delay.Load())
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-l.gone:
		return false
	}
}

// requests forwards client to server, request by request, and arms the link
// when a request matches.
func (l *link) requests() {
	defer l.close()
	buf := make([]byte, 32<<10)
	var pending []byte
	var sent int64 // commands forwarded so far
	for {
		n, err := l.client.Read(buf)
		if n > 0 {
			pending = append(pending, buf[:n]...)
			size, commands, matched := l.scanRequests(pending)
			if matched != nil {
				l.mu.Lock()
				l.drop, l.dropFrom, l.dropUntil = matched, sent, sent+commands
				l.mu.Unlock()
			}
			sent += commands
			if size > 0 {
				if !l.pause() {
					return
				}
				if _, err := l.server.Write(pending[:size]); err != nil {
					return
				}
				pending = append(pending[:0], pending[size:]...)
			}
			if matched != nil {
				// Read nothing more from this client: the replies pump closes
				// the link once the matched request's replies are discarded.
				<-l.gone
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// scanRequests finds the complete requests at the start of b: their size,
// how many are commands, and the arm one of them claimed, if any. After a
// parse error the link goes raw and all of b is forwarded.
func (l *link) scanRequests(b []byte) (size int, commands int64, matched *arm) {
	l.mu.Lock()
	raw := l.raw
	l.mu.Unlock()
	if raw {
		return len(b), 0, nil
	}
	for size < len(b) {
		n, command, err := requestSize(b[size:])
		if err != nil {
			l.mu.Lock()
			l.raw = true
			l.mu.Unlock()
			return len(b), commands, nil
		}
		if n == 0 {
			break
		}
		if command {
			commands++
			if matched == nil {
				matched = l.p.claim(b[size : size+n])
			}
		}
		size += n
	}
	if matched != nil {
		// The request is all of what this read brought, complete or not
		// (a pipeline split across reads has its tail sent with it).
		return len(b), commands, matched
	}
	return size, commands, nil
}

// sift appends to out the whole replies at the start of pending that go
// on to the client, leaving out those of a matched request; index counts
// the replies seen. It returns out, how many bytes of pending it used, and
// whether the last reply of the matched request has gone by.
func (l *link) sift(pending, out []byte, index *int64) ([]byte, int, bool) {
	used := 0
	for used < len(pending) {
		l.mu.Lock()
		raw, drop, from, until := l.raw, l.drop, l.dropFrom, l.dropUntil
		l.mu.Unlock()
		if raw {
			return append(out, pending[used:]...), len(pending), false
		}
		size, reply, err := replySize(pending[used:])
		if err != nil {
			l.mu.Lock()
			l.raw = true
			l.mu.Unlock()
			continue
		}
		if size == 0 {
			break
		}
		value := pending[used : used+size]
		used += size
		switch {
		case !reply:
			out = append(out, value...)
		case drop != nil && *index >= from:
			*index++
			if *index >= until {
				return out, used, true
			}
		default:
			out = append(out, value...)
			*index++
		}
	}
	return out, used, false
}

// replies forwards server to client, reply by reply, discarding the replies
// of a matched request and closing the link after the last of them.
func (l *link) replies() {
	defer l.close()
	buf := make([]byte, 32<<10)
	var pending, out []byte
	var index int64 // replies seen so far
	for {
		n, err := l.server.Read(buf)
		if n > 0 {
			pending = append(pending, buf[:n]...)
			var used int
			var finished bool
			out, used, finished = l.sift(pending, out[:0], &index)
			pending = append(pending[:0], pending[used:]...)
			if len(out) > 0 {
				if !l.pause() {
					return
				}
				if _, err := l.client.Write(out); err != nil {
					return
				}
			}
			if finished {
				return // the replies of the matched request are gone: close
			}
		}
		if err != nil {
			return
		}
	}
}
