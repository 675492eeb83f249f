package lock

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/random"
)

// Waking waiters on release.
//
// Every client that has waiters gets one hub: one Pub/Sub connection on which
// the wake channels of all keys being waited for are multiplexed, and one
// goroutine that reads it. A release PUBLISHes on the key's wake channel; the
// hub then wakes the longest-waiting local waiter of that key (one, not all:
// only one can win, and a waiter that gives up passes its wake on). A missed
// message (reconnect, race with SUBSCRIBE) only delays a waiter until its
// next backoff poll.
//
// The hub and its subscriptions outlive their last waiter by idleLinger, so
// a busy lock does not SUBSCRIBE and UNSUBSCRIBE on every wait, and then go
// away with their goroutine and connection.

const (
	idleLinger = 100 * time.Millisecond // keep an unused subscription / hub this long
	quietPing  = 5 * time.Second        // ping the Pub/Sub connection after this much silence
	subTimeout = 5 * time.Second        // bound on a SUBSCRIBE / UNSUBSCRIBE write
)

// wake is the registry of hubs. Its mutex guards every hub's and wakeChan's
// fields marked "guarded".
var wake struct {
	mu   sync.Mutex
	hubs map[redis.UniversalClient]*hub
	// live is len(hubs), written under mu and read without it: a release
	// or an acquisition of a process none of whose callers waits lately
	// (no hub) learns that there is no waiter to hand the lock to, nor a
	// subscription to join, without taking mu, which every lock cycle of
	// every goroutine would otherwise take twice. A reader that sees 0
	// acts as if it had taken mu before the hub was made (it writes
	// nothing then).
	live atomic.Int32
}

type hub struct {
	rdb    redis.UniversalClient
	ps     *redis.PubSub
	subMu  sync.Mutex    // orders SUBSCRIBE / UNSUBSCRIBE writes with the decisions to send them
	closed chan struct{} // closed when the hub is shut down
	done   chan struct{} // closed when the reader goroutine has exited

	// guarded by wake.mu
	chans   map[string]*wakeChan
	waiters int
	idle    *time.Timer
}

type wakeChan struct {
	name    string
	ready   chan struct{} // closed when the server confirmed the subscription
	settled chan struct{} // closed when it was confirmed or refused

	// guarded by wake.mu
	confirmed bool
	refused   bool      // the server refused the SUBSCRIBE (ACL): waiters poll
	queue     []*waiter // oldest first
	idle      *time.Timer
}

type waiter struct {
	h  *hub
	wc *wakeChan
	c  chan struct{} // capacity 1: a pending wake-up
	heir

	// guarded by wake.mu
	offered bool   // a release that may hand it the lock (pass) is on its way
	maybe   bool   // such a release's outcome is unknown (a network error)
	granted *grant // the lock was handed to it, and it has not taken it yet
	gone    bool   // it left the queue
}

// heir is what a release needs to hand the lock to a waiter: its
// acquisition's token, TTL and fence life. A waiter with no token (one with
// a Load, which must run with its attempt) is never handed the lock: it is
// woken to try.
type heir struct {
	tok       string
	ttl, life time.Duration
}

// grant is a lock handed to a waiter: its fencing token, and when the
// release that handed it was sent (the TTL runs from no earlier).
type grant struct {
	fence int64
	start time.Time
}

// procID tells this process's clients from those of other processes in wait
// keys.
var procID = random.Hex(8)

// clientID names rdb's waiters in the lock's wait key (see the flag and pass
// entries of lock.lua): a release hands the lock to a waiter of its own
// client only while no waiter of another client has flagged itself.
func clientID(rdb redis.UniversalClient) string {
	v := reflect.ValueOf(rdb)
	if v.Kind() != reflect.Pointer {
		return procID
	}
	p := v.Pointer()
	if last := lastClientID.Load(); last != nil && last.p == p {
		return last.id // most programs lock through one client
	}
	id := procID + "." + strconv.FormatUint(uint64(p), 36)
	lastClientID.Store(&namedClient{p: p, id: id, boxed: id})
	return id
}

// namedClient is a client's address and its clientID, also boxed.
type namedClient struct {
	p     uintptr
	id    string
	boxed any
}

// clientIDArg is clientID as a script argument: boxed once per client, as
// boxing a string costs an allocation.
func clientIDArg(rdb redis.UniversalClient) any {
	id := clientID(rdb)
	if last := lastClientID.Load(); last != nil && last.id == id {
		return last.boxed
	}
	return id
}

// lastClientID is the last clientID made: it is a function of the
// client's address alone, so it is made again only for another client.
var lastClientID atomic.Pointer[namedClient]

// offer picks the waiter a release of the lock at key on rdb may hand
// the lock to: the longest-waiting local waiter, if it can take it that
// way and no other release is handing it a lock. It returns nil otherwise,
// without taking wake.mu when the process has no hub (see wake.live).
func offer(rdb redis.UniversalClient, key string) *waiter {
	if wake.live.Load() == 0 {
		return nil
	}
	wake.mu.Lock()
	defer wake.mu.Unlock()
	h := wake.hubs[rdb]
	if h == nil || len(h.chans) == 0 {
		return nil
	}
	var room [96]byte
	wc := h.chans[string(appendWakeChannel(room[:0], key))]
	if wc == nil || len(wc.queue) == 0 {
		return nil
	}
	w := wc.queue[0]
	if w.tok == "" || w.offered || w.granted != nil {
		return nil
	}
	w.offered = true
	return w
}

// settle records the outcome of a release that offered w the lock: handed
// (g is the grant), not handed, or unknown.
func (w *waiter) settle(g grant, handed, unknown bool) {
	wake.mu.Lock()
	defer wake.mu.Unlock()
	w.offered = false
	switch {
	case unknown:
		w.maybe = true
	case handed && !w.gone:
		w.granted = &g
		w.signal()
	}
	// handed to a waiter that left meanwhile: it saw the offer and gives
	// its acquisition up, which releases the lock
}

// take returns the lock handed to w, if one was.
func (w *waiter) take() *grant {
	wake.mu.Lock()
	defer wake.mu.Unlock()
	g := w.granted
	w.granted = nil
	return g
}

// join registers a waiter for channel on rdb's hub, subscribing if needed.
// The subscription is live once w.wc.ready is closed.
func join(rdb redis.UniversalClient, channel string, hr heir) *waiter {
	wake.mu.Lock()
	h := wake.hubs[rdb]
	if h == nil {
		h = &hub{
			rdb: rdb, ps: rdb.Subscribe(context.Background()),
			closed: make(chan struct{}), done: make(chan struct{}),
			chans: make(map[string]*wakeChan),
		}
		if wake.hubs == nil {
			wake.hubs = make(map[redis.UniversalClient]*hub)
		}
		wake.hubs[rdb] = h
		wake.live.Store(int32(len(wake.hubs)))
		go h.read()
	}
	h.waiters++
	if h.idle != nil {
		h.idle.Stop()
		h.idle = nil
	}
	wc := h.chans[channel]
	subscribe := wc == nil
	if subscribe {
		wc = &wakeChan{name: channel, ready: make(chan struct{}), settled: make(chan struct{})}
		h.chans[channel] = wc
	}
	if wc.idle != nil {
		wc.idle.Stop()
		wc.idle = nil
	}
	w := &waiter{h: h, wc: wc, c: make(chan struct{}, 1), heir: hr}
	wc.queue = append(wc.queue, w)
	wake.mu.Unlock()

	if subscribe {
		h.subMu.Lock()
		ctx, cancel := context.WithTimeout(context.Background(), subTimeout)
		// On error go-redis keeps the channel and subscribes on reconnect;
		// until then the waiter polls.
		_ = h.ps.Subscribe(ctx, channel)
		cancel()
		h.subMu.Unlock()
	}
	return w
}

// joinLive registers a waiter for the wake channel of key if rdb's hub is
// already subscribed to it (confirmed by the server), and returns nil
// otherwise; ahead reports whether others wait before it. It never does
// I/O, so Acquire can call it before its first attempt. The channel's name
// is made only when rdb's hub has a channel (a client none of whose
// callers waits lately makes none).
func joinLive(rdb redis.UniversalClient, key string, hr heir) (w *waiter, ahead bool) {
	if wake.live.Load() == 0 {
		return nil, false
	}
	wake.mu.Lock()
	defer wake.mu.Unlock()
	h := wake.hubs[rdb]
	if h == nil || len(h.chans) == 0 {
		return nil, false
	}
	var room [96]byte
	wc := h.chans[string(appendWakeChannel(room[:0], key))] // a look-up that copies nothing
	if wc == nil || !wc.confirmed {
		return nil, false
	}
	h.waiters++
	if h.idle != nil {
		h.idle.Stop()
		h.idle = nil
	}
	if wc.idle != nil {
		wc.idle.Stop()
		wc.idle = nil
	}
	w = &waiter{h: h, wc: wc, c: make(chan struct{}, 1), heir: hr}
	ahead = len(wc.queue) > 0
	wc.queue = append(wc.queue, w)
	return w, ahead
}

// leave unregisters w. A waiter that leaves without the lock passes a wake-up
// on to the next one, in case it swallowed one meant for them. It reports
// whether a release may have handed w the lock (see offer) that w did not
// take: the acquisition must then be given up, which releases it.
func (w *waiter) leave(passOn bool) (handed bool) {
	h, wc := w.h, w.wc
	wake.mu.Lock()
	defer wake.mu.Unlock()
	w.gone = true
	handed = w.offered || w.maybe || w.granted != nil
	for i, x := range wc.queue {
		if x == w {
			wc.queue = append(wc.queue[:i], wc.queue[i+1:]...)
			break
		}
	}
	if passOn && len(wc.queue) > 0 {
		wc.queue[0].signal()
	}
	if len(wc.queue) == 0 {
		wc.idle = time.AfterFunc(idleLinger, func() { h.dropIfIdle(wc) })
	}
	h.waiters--
	if h.waiters == 0 {
		h.idle = time.AfterFunc(idleLinger, h.closeIfIdle)
	}
	return handed
}

func (w *waiter) signal() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}

// dropIfIdle unsubscribes from a channel that has had no waiter for idleLinger.
func (h *hub) dropIfIdle(wc *wakeChan) {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	wake.mu.Lock()
	if wake.hubs[h.rdb] != h || h.chans[wc.name] != wc || len(wc.queue) > 0 {
		wake.mu.Unlock()
		return
	}
	delete(h.chans, wc.name)
	wake.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), subTimeout)
	_ = h.ps.Unsubscribe(ctx, wc.name)
	cancel()
}

// closeIfIdle shuts the hub down if it has had no waiter for idleLinger.
func (h *hub) closeIfIdle() {
	wake.mu.Lock()
	if wake.hubs[h.rdb] != h || h.waiters > 0 {
		wake.mu.Unlock()
		return
	}
	delete(wake.hubs, h.rdb)
	wake.live.Store(int32(len(wake.hubs)))
	for _, wc := range h.chans {
		if wc.idle != nil {
			wc.idle.Stop()
		}
	}
	wake.mu.Unlock()
	close(h.closed)
	_ = h.ps.Close()
	<-h.done
}

// read is the hub's goroutine: it dispatches subscription confirmations and
// release announcements until the hub is closed.
func (h *hub) read() {
	defer close(h.done)
	ctx := context.Background() // a cancelled context would make go-redis reconnect
	for {
		msg, err := h.ps.ReceiveTimeout(ctx, quietPing)
		if err != nil {
			select {
			case <-h.closed:
				return
			default:
			}
			if redis.HasErrorPrefix(err, "NOPERM") {
				// A user without permission for the channel (on Redis 7
				// new users have none: acl-pubsub-default resetchannels).
				// Not a connection problem: its waiters poll instead.
				h.refuse()
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				pctx, cancel := context.WithTimeout(ctx, subTimeout)
				_ = h.ps.Ping(pctx) // a dead connection fails here and is replaced
				cancel()
				continue
			}
			// go-redis reconnects and resubscribes on the next read; a release
			// may have been missed meanwhile, so let every waiter look again.
			h.wakeAll()
			select {
			case <-h.closed:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				h.confirm(m.Channel)
			}
		case *redis.Message:
			h.notify(m.Channel)
		}
	}
}

func (h *hub) confirm(channel string) {
	wake.mu.Lock()
	defer wake.mu.Unlock()
	wc := h.chans[channel]
	if wc == nil {
		return
	}
	if !wc.confirmed {
		wc.confirmed = true
		close(wc.ready)
		if !wc.refused {
			close(wc.settled)
		}
		return
	}
	// Subscribed again after a reconnect: a release may have been missed.
	if len(wc.queue) > 0 {
		wc.queue[0].signal()
	}
}

// refuse marks the channels not yet confirmed as refused: the server's
// NOPERM does not name the channel, and a user allowed some channels and
// not others is rare enough that polling on all pending ones is fine. Their
// waiters stop waiting for a confirmation and poll.
func (h *hub) refuse() {
	wake.mu.Lock()
	defer wake.mu.Unlock()
	for _, wc := range h.chans {
		if !wc.confirmed && !wc.refused {
			wc.refused = true
			close(wc.settled)
		}
	}
}

func (h *hub) notify(channel string) {
	wake.mu.Lock()
	defer wake.mu.Unlock()
	if wc := h.chans[channel]; wc != nil && len(wc.queue) > 0 {
		wc.queue[0].signal()
	}
}

func (h *hub) wakeAll() {
	wake.mu.Lock()
	defer wake.mu.Unlock()
	for _, wc := range h.chans {
		for _, w := range wc.queue {
			w.signal()
		}
	}
}
