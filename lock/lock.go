package lock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/backoff"
	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/optcheck"
	"github.com/rapyer-go/rapyer/internal/random"
	"github.com/rapyer-go/rapyer/internal/reply"
	"github.com/rapyer-go/rapyer/internal/script"
)

// Defaults used for the zero fields of Options.
const (
	// DefaultTTL is the lock's time to live when Options.TTL is zero.
	DefaultTTL = 10 * time.Second
	// DefaultWait is how long Acquire waits when Options.Wait is zero.
	DefaultWait = 10 * time.Second
	// DefaultRetryMin is Options.RetryMin when it is zero.
	DefaultRetryMin = 1 * time.Millisecond
	// DefaultRetryMax is Options.RetryMax when it is zero.
	DefaultRetryMax = 50 * time.Millisecond
)

// NoWait as Options.Wait makes Acquire try exactly once: it returns
// rapyer.ErrNotAcquired at once if another holder has the lock.
const NoWait time.Duration = -1

// fenceMargin is how much longer than the lock its fence key lives (see
// FenceKey), and how long the marker of a given-up acquisition outlives the
// lock's TTL.
const fenceMargin = time.Minute

// Options configure a lock. The zero value works: TTL 10s, wait up to 10s,
// back off between 1ms and 50ms with jitter, no auto-extend, no Load. A
// field is zero for its default, NoWait (a negative Wait) tries once, and a
// value no lock can take (a negative TTL, RetryMin or RetryMax, a RetryMin
// longer than RetryMax) is refused with rapyer.ErrInvalid before
// anything is sent (by rapyer.New when it is a model's default).
type Options struct {
	// TTL is how long the lock lives without extension. Zero means
	// DefaultTTL (10s); a negative TTL, or one past some 292 years, is
	// refused with rapyer.ErrInvalid.
	// It is rounded up to whole milliseconds.
	TTL time.Duration

	// Wait is how long Acquire waits for a lock that someone else holds.
	// Zero means DefaultWait (10s); NoWait (or any negative value) means
	// try once. The caller's context can end the wait earlier.
	Wait time.Duration

	// RetryMin and RetryMax bound the polling of a waiter. Zero means
	// DefaultRetryMin (1ms) and DefaultRetryMax (50ms); a negative one, or
	// a RetryMin longer than the RetryMax given, is refused with
	// rapyer.ErrInvalid, and one longer than the default RetryMax raises
	// it to RetryMin. A release wakes a
	// waiter at once (see the package documentation), so while its wake-up
	// subscription is live a waiter polls only as a fallback, every
	// RetryMax/2 to RetryMax; if the subscription is not confirmed it backs
	// off exponentially from RetryMin to RetryMax, with jitter. A waiter
	// never sleeps past the holder's remaining TTL.
	RetryMin, RetryMax time.Duration

	// AutoExtend starts a watchdog goroutine that extends the lock by TTL
	// every TTL/3 until Release or Forget. If an extension finds the lock
	// lost, or no extension succeeds before the TTL runs out, the lock's
	// Context is cancelled with cause rapyer.ErrNotHeld.
	AutoExtend bool

	// Load, when set, is called on every acquisition attempt with the
	// pipeline in which the attempt runs: the acquire call, then whatever
	// Load queues, in one round trip. Commands queued by Load run right
	// after the acquire call, so a caller can acquire a lock and read what
	// it guards in one round trip. Two or more of them run atomically with
	// it, in MULTI/EXEC, so that they read one state; one alone goes in a
	// plain pipeline, on the same connection (a read right after the
	// acquire sees what a read in the same step would, as far as anyone
	// who takes the lock can tell; a transaction would cost two more
	// commands).
	//
	// Load is called again for every attempt with a fresh pipeline (and,
	// the first time it queues more than one command, again on a
	// transaction): keep the commands of the last call. Their results are
	// meaningful only when Acquire returns nil. Queue reads only (an
	// attempt may be retried, and Load's commands run whether or not the
	// attempt won the lock). On a Redis Cluster every key Load touches
	// must be in the lock key's slot (share its hash tag), or the
	// pipeline is split and not atomic.
	Load func(pipe redis.Pipeliner)

	// NoFence takes the lock without a fencing token: Fence returns 0, and
	// the acquisition neither reads nor writes the fence key, nor reads
	// the server's clock. It is for callers that fence their writes by the
	// lock's token in the same atomic step as the write (ops.Fenced, as
	// rapyer's Model.Lock does), which need no number. Fences of the other
	// acquisitions of the key still increase strictly: one without a fence
	// gives none out.
	NoFence bool
}

// options is Options with the defaults filled in.
type options struct {
	ttl, wait, retryMin, retryMax time.Duration
	noWait, autoExtend, noFence   bool
	load                          func(redis.Pipeliner)
}

func (o Options) resolve() (options, error) {
	r := options{
		ttl: o.TTL, wait: o.Wait, retryMin: o.RetryMin, retryMax: o.RetryMax,
		autoExtend: o.AutoExtend, load: o.Load, noFence: o.NoFence,
	}
	if err := optcheck.Lock("lock.Options", o.TTL, o.RetryMin, o.RetryMax); err != nil {
		return r, err
	}
	switch {
	case r.ttl == 0:
		r.ttl = DefaultTTL
	case r.ttl%time.Millisecond != 0:
		r.ttl = r.ttl.Truncate(time.Millisecond) + time.Millisecond
	}
	switch {
	case r.wait == 0:
		r.wait = DefaultWait
	case r.wait < 0:
		r.wait, r.noWait = 0, true
	}
	if r.retryMin <= 0 {
		r.retryMin = DefaultRetryMin
	}
	if r.retryMax <= 0 {
		r.retryMax = DefaultRetryMax
	}
	if r.retryMax < r.retryMin {
		r.retryMax = r.retryMin
	}
	return r, nil
}

// FenceKey is the key that holds the last fencing token given out for the
// lock at key: key+":fence". It keeps key's hash tag, so both live in one
// cluster slot. Every fenced acquisition writes it to live the lock's TTL
// plus a minute, and an extension lengthens it to twice that when it has
// less left, so it outlives the held lock and leaves nothing lasting;
// fencing tokens do not depend on it surviving (see Lock.Fence).
//
// A given-up acquisition (see Acquire) leaves, for the lock's TTL plus a
// minute, a marker at FenceKey(key)+":"+token. Hence the rule for lock
// keys: no lock key ends in ":fence" or holds ":fence:", so that no lock
// key is another lock's fence key or marker.
func FenceKey(key string) string { return key + ":fence" }

// voidKey is the marker of the given-up acquisition of key with token.
func voidKey(key, token string) string { return key + ":fence:" + token }

// waitKey is the flag that someone waits for the lock at key and wants a
// release to wake it: FenceKey(key)+":wait". A failed attempt of a caller
// that will wait makes it live at least that caller's lease; a release
// announces itself on WakeChannel(key) only while it exists. (No token is
// "wait": tokens are hex.)
func waitKey(key string) string { return key + ":fence:wait" }

// lease is how long a failed attempt keeps waitKey alive: past the waiter's
// next attempt (at most retryMax away, and once more that for the
// subscription's confirmation), with room for a slow scheduler.
func (o options) lease() time.Duration {
	if o.noWait {
		return 0
	}
	return 3*min(o.retryMax, time.Duration(1<<61)) + 500*time.Millisecond // 3*retryMax fits a Duration
}

// checkKey refuses the keys the rule of FenceKey forbids.
func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: Acquire: an empty key", errs.Invalid)
	case strings.HasSuffix(key, ":fence") || strings.Contains(key, ":fence:"):
		return fmt.Errorf("%w: Acquire(%q): a key that ends in \":fence\" or holds \":fence:\" could be the fence key of another lock", errs.Invalid, key)
	}
	return nil
}

// tagHint is what a slot refusal of the server says of a lock key without
// a hash tag: the scripts name the lock's other keys (FenceKey, the wait
// key, the marker of a given-up acquisition) by appending to the key, and
// only a hash tag keeps them in its slot.
func tagHint(key string) string {
	if keys.HasTag(key) {
		return ""
	}
	return fmt.Sprintf("; on a Redis Cluster a lock key needs a hash tag, so that its fence key %q and its other keys share its slot (%d; the fence key's is %d): put the part that names the locked thing in braces, as in \"account:{alice}:lock:withdraw\"",
		FenceKey(key), keys.Slot(key), keys.Slot(FenceKey(key)))
}

// errVoid: the server received an attempt after Acquire had given its
// acquisition up (a request delayed past its caller's clean-up), and
// refused it. Acquire gives up only after its last attempt, so it should
// never see this.
var errVoid = errors.New("the acquisition was given up")

// WakeChannel is the Pub/Sub channel on which a release of the lock at key
// is announced: key+":wake". The message is the lock's key itself, from
// every release (Release here, ops.Unlock in a batch); waiters subscribe to
// the channel and wake on any message. A script that releases a lock itself
// (see Lock.Forget) should PUBLISH the key to it after the DEL, where the
// user may.
func WakeChannel(key string) string { return key + ":wake" }

// appendWakeChannel appends WakeChannel(key) to dst: the look-ups of a hub's
// channels name it in a room on the stack, where WakeChannel costs an
// allocation.
func appendWakeChannel(dst []byte, key string) []byte {
	return append(append(dst, key...), ":wake"...)
}

// Acquire takes the lock named key, waiting as opts says while someone else
// holds it. On success the lock is held until Release, Forget, or the TTL
// runs out (see Options.AutoExtend).
//
// Errors: rapyer.ErrNotAcquired when the wait ends with the lock still held
// elsewhere; rapyer.ErrNotSent wrapping the context's error (errors.Is holds
// for context.Canceled and context.DeadlineExceeded) when ctx ends first,
// or the network's; rapyer.ErrNoPermission or rapyer.ErrRefused wrapping a
// refusal of the server; rapyer.ErrCrossSlot for a key without a hash tag
// on a cluster (see below); rapyer.ErrInvalid for a bad key or option.
// When an attempt's outcome is unknown (a cancelled context or a network
// error after the request was sent), Acquire gives the acquisition up
// before returning: one call releases the lock if the token holds it and
// leaves a marker (see FenceKey) that makes any request of this acquisition
// still on its way refuse to take the lock when it arrives, so neither a
// lost reply nor a request that reaches the server after the clean-up
// leaves a lock held.
//
// The key must follow the rule of FenceKey; on a Redis Cluster it needs a
// hash tag, so that its fence key lives in its slot: on a cluster the
// server refuses a key without one at the script's first call, which
// touches a key named after it, before anything is written, and Acquire
// returns rapyer.ErrCrossSlot saying so. A client of one server takes any
// key.
//
// Acquire is not reentrant: a second Acquire of a held key waits like any
// other caller, even in the same goroutine.
func Acquire(ctx context.Context, rdb redis.UniversalClient, key string, opts Options) (*Lock, error) {
	if err := errs.NilContext(ctx, "Acquire"); err != nil {
		return nil, err
	}
	if errs.NilClient(rdb) {
		return nil, fmt.Errorf("%w: Acquire(%q): nil client", errs.Invalid, key)
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: Acquire(%q): %w", errs.NotSent, key, err)
	}
	a := newAcquirer(rdb, key, o)
	l, err := a.run(ctx)
	if err != nil && a.unsure {
		// An attempt may have been applied without us seeing the reply, or
		// may still be on its way (a connection abandoned at a deadline).
		// Give the acquisition up: release by token and void the token.
		a.giveUp(ctx)
	}
	return l, err
}

// acquirer is the state of one Acquire call.
type acquirer struct {
	rdb   redis.UniversalClient
	key   string
	o     options
	token string
	cmd   []any        // the acquire call: the lock key; token, TTL(, client id(, fence life(, lease)))
	buf   [9]any       // cmd's room, saving it an allocation
	lbuf  [7]any       // lean's room where it is not cmd's start (a fence's life)
	fn    *script.Func // the entry cmd calls: lua.Acquire, or lua.AcquireFenced
	lock  Lock         // the Lock a won attempt returns (see newLock)

	// lean and leanFn are the attempt of a caller that will wait, sent
	// while no waiter of it is registered for the key (see tryAs): as a
	// caller that will not wait sends it (token and TTL, and the fence
	// life to acquiref for a fence: no client id, no lease), so an
	// acquisition that wins at once pays for neither; nil for a caller
	// that will not wait. leanNext says
	// the next attempt is sent so.
	lean     []any
	leanFn   *script.Func
	leanNext bool

	unsure bool // some attempt may have been applied without a reply
	// tx: Load queues more than one command, so an attempt goes in
	// MULTI/EXEC (see queue)
	tx bool
}

func newAcquirer(rdb redis.UniversalClient, key string, o options) *acquirer {
	a := &acquirer{rdb: rdb, key: key, o: o, token: random.Hex(16)}
	m := o.millis()
	// laid out as script.Command does, in a's room: the command, its
	// name, the key count and the lock key (the entry names the lock's
	// other keys after it), then token and TTL, and only what differs from
	// the entry's defaults (each argument costs the server about 1.2k
	// instructions): for a caller that will wait, the wait key's owner
	// (see pass); the fence life (none: no fence); the lease unless it is
	// the default RetryMax's. A caller that will not wait and wants a
	// fence sends token, TTL and the fence's life to acquiref.
	// (The key and the token as *string, which go-redis writes, and reads
	// a cluster slot from, as the string: boxing a string costs an
	// allocation, a pointer into a does not.)
	cmd := append(a.buf[:0], nil, nil, 1, &a.key, &a.token, m.ttl)
	a.cmd, a.fn = cmd, lua.Acquire
	switch {
	case !o.noWait:
		a.lean, a.leanFn = cmd, lua.Acquire
		if !o.noFence {
			a.lean, a.leanFn = append(append(a.lbuf[:0], cmd...), m.life), lua.AcquireFenced
		}
		cmd = append(cmd, clientIDArg(rdb))
	case !o.noFence:
		a.cmd, a.fn = append(cmd, m.life), lua.AcquireFenced
		return a
	}
	custom := !o.noWait && o.lease() != defaultLease
	if !o.noFence || custom {
		cmd = append(cmd, m.life)
	}
	if custom {
		cmd = append(cmd, m.lease)
	}
	a.cmd = cmd
	return a
}

// defaultLease is the lease of the default RetryMax, which the acquire
// entry takes when it is sent none (LEASE in lock.lua).
const defaultLease = 3*DefaultRetryMax + 500*time.Millisecond

// millis are the acquire call's arguments in milliseconds, boxed once for
// the options they were made for.
type millis struct {
	of               options // only its ttl, retryMax, noWait and noFence count
	ttl, life, lease any
}

// lastMillis are the last millis made: most programs lock with one or two
// sets of options, and boxing a number costs an allocation.
var lastMillis atomic.Pointer[millis]

// millis returns the acquire call's TTL, fence life (0 without a fence)
// and lease, boxed.
func (o options) millis() *millis {
	if m := lastMillis.Load(); m != nil && m.of.ttl == o.ttl && m.of.retryMax == o.retryMax &&
		m.of.noWait == o.noWait && m.of.noFence == o.noFence {
		return m
	}
	life := (o.ttl + fenceMargin).Milliseconds()
	if o.noFence {
		life = 0 // the acquire entry gives no fence
	}
	m := &millis{of: options{ttl: o.ttl, retryMax: o.retryMax, noWait: o.noWait, noFence: o.noFence},
		ttl: o.ttl.Milliseconds(), life: life, lease: o.lease().Milliseconds()}
	lastMillis.Store(m)
	return m
}

// heir is what a release of this client needs to hand a waiting a the
// lock. A caller with a Load is never handed it: Load runs with an attempt.
func (a *acquirer) heir() heir {
	if a.o.load != nil {
		return heir{}
	}
	life := a.o.ttl + fenceMargin
	if a.o.noFence {
		life = 0 // handed without a fence
	}
	return heir{tok: a.token, ttl: a.o.ttl, life: life}
}

// giveUp releases the lock if an attempt took it, and marks the token void
// for the lock's TTL plus fenceMargin, in one call: an attempt that reaches
// the server later finds the marker and does not take the lock.
func (a *acquirer) giveUp(ctx context.Context) {
	rctx := withReleaseTimeout(ctx)
	cmd := []any{nil, nil, 1, a.key, a.token, (a.o.ttl + fenceMargin).Milliseconds()} // as script.Command lays it out
	_ = lua.Release.Run(&rctx, a.rdb, cmd).Err()
}

// attempt is the outcome of one try.
type attempt struct {
	ok    bool
	fence int64
	pttl  time.Duration // holder's remaining TTL when !ok (<= 0: unknown or none)
	start time.Time     // when the request was sent
	lean  bool          // sent as a caller that will not wait sends it (see acquirer.lean)
}

func (a *acquirer) run(ctx context.Context) (*Lock, error) {
	// The wait's deadline is read from the clock only when an attempt
	// fails (from when the first was sent) or before a first wait: most
	// acquisitions win at once, and a reading of the clock is not free.
	var deadline time.Time
	p := &pause{key: a.key}
	won := false
	defer func() {
		if p.stop(won) {
			a.unsure = true // a release handed us the lock we did not take
		}
	}()
	if !a.o.noWait {
		// If waiters of this key already keep its wake channel subscribed,
		// join them before the first attempt: no release after it can then
		// go unnoticed, and a failed attempt needs no immediate second try.
		var ahead bool
		p.w, ahead = joinLive(a.rdb, a.key, a.heir())
		if ahead {
			// Others of this client wait already: queue behind them, and
			// try when a release wakes us (the oldest is woken first) or
			// at our poll. Not barging ahead of a woken waiter saves the
			// attempt that would lose, and keeps the hand-off in order.
			deadline = time.Now().Add(a.o.wait)
			d := backoff.Delay(a.o.retryMax, a.o.retryMax, 0)
			if err := p.nap(ctx, min(d, time.Until(deadline))); err != nil {
				return nil, err
			}
		}
	}
	for {
		if g := p.granted(); g != nil {
			// A release of this client handed us the lock.
			won = true
			return newLock(ctx, a, attempt{ok: true, fence: g.fence, start: g.start}), nil
		}
		at, err := a.tryAs(ctx, p.w == nil)
		if err != nil {
			return nil, err
		}
		if at.ok {
			won = true
			return newLock(ctx, a, at), nil
		}
		if deadline.IsZero() {
			deadline = at.start.Add(a.o.wait)
		}
		now := time.Now()
		switch {
		case a.o.noWait:
			return nil, fmt.Errorf("%w: Acquire(%q): held elsewhere (no wait)", errs.NotAcquired, a.key)
		case !now.Before(deadline):
			return nil, fmt.Errorf("%w: Acquire(%q): still held elsewhere after %v", errs.NotAcquired, a.key, a.o.wait)
		}
		if err := p.between(ctx, a, at, deadline.Sub(now)); err != nil {
			return nil, err
		}
	}
}

// counts are for the tests: the naps of waiters (sleeps waiting for a
// wake-up) begun, and how they ended: woken (by a release's announcement,
// a waiter passing its wake on, a reconnect, or a release handing it the
// lock) or at the timer (a poll, or the holder's TTL); how many Releases
// announced themselves (someone waited), and how many handed the lock to a
// waiter of their client.
var counts struct{ naps, wakes, polls, announced, handed atomic.Int64 }

// pause is the waiting between the attempts of one acquisition: the
// subscription to the key's wake channel, a timer, and the backoff count.
type pause struct {
	key   string
	w     *waiter
	timer *time.Timer
	n     int // sleeps so far, for the backoff
}

// between waits after the failed attempt at, at most left: until a release
// wakes it, the holder's key expires, or the backoff says to poll.
func (p *pause) between(ctx context.Context, a *acquirer, at attempt, left time.Duration) error {
	if p.w == nil {
		// Subscribe to the release announcements, wait until the
		// subscription is live (or refused: then we poll), then try
		// again at once: a release that happened before the
		// subscription would not wake us.
		p.w = join(a.rdb, WakeChannel(a.key), a.heir())
		_, err := p.sleep(ctx, min(a.o.retryMax, left), p.w.wc.settled)
		return err
	}
	var d time.Duration
	select {
	case <-p.w.wc.ready:
		// Subscribed: a release wakes us, so polling is only the
		// fallback for a lost message or a holder that died.
		d = backoff.Delay(a.o.retryMax, a.o.retryMax, 0)
	default:
		d = backoff.Delay(a.o.retryMin, a.o.retryMax, p.n)
		p.n++
	}
	if at.pttl > 0 && at.pttl < d {
		d = at.pttl // the holder's key expires then
	}
	return p.nap(ctx, min(d, left))
}

// nap waits d for a wake-up of the waiter, counting how it ended.
func (p *pause) nap(ctx context.Context, d time.Duration) error {
	counts.naps.Add(1)
	woken, err := p.sleep(ctx, d, p.w.c)
	switch {
	case err != nil:
	case woken:
		counts.wakes.Add(1)
	default:
		counts.polls.Add(1)
	}
	return err
}

// sleep waits d, or until wake fires (woken) or ctx is done.
func (p *pause) sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) (woken bool, err error) {
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-wake:
		p.timer.Stop()
		return true, nil
	case <-p.timer.C:
	case <-ctx.Done():
		return false, fmt.Errorf("%w: Acquire(%q): %w", errs.NotSent, p.key, ctx.Err())
	}
	return false, nil
}

// stop ends the waiting; the subscription is dropped with the caller's
// interest in the key unless it won the lock. It reports whether a release
// may have handed the caller the lock after all, when it did not win.
func (p *pause) stop(won bool) (handed bool) {
	if p.timer != nil {
		p.timer.Stop()
	}
	if p.w != nil {
		handed = p.w.leave(!won) && !won
	}
	return handed
}

// granted returns the lock a release of this client handed the caller, if
// one did.
func (p *pause) granted() *grant {
	if p.w == nil {
		return nil
	}
	return p.w.take()
}

// tryAs runs an acquisition attempt. Of a caller that will wait and is not
// registered as a waiter (unnamed), it is first sent lean, as a caller
// that will not wait sends it: most acquisitions win at once, and pay for
// no argument they do not use. One that finds the lock held is sent again
// at once naming the waiter's client, which sets the wait flag as the
// first attempt did before session 15 of issue #13 (from then on releases
// announce themselves, and those of other clients hand the lock to their
// own waiters no more), whatever the deadline: a waiter's failed attempt
// always flags.
// The attempt returned is the last, with the first one's start.
func (a *acquirer) tryAs(ctx context.Context, unnamed bool) (attempt, error) {
	a.leanNext = unnamed && a.lean != nil
	at, err := a.try(ctx)
	if err != nil || at.ok || !at.lean {
		return at, err
	}
	a.leanNext = false
	start := at.start
	at, err = a.try(ctx)
	at.start = start
	return at, err
}

// try runs one acquisition attempt.
func (a *acquirer) try(ctx context.Context) (attempt, error) {
	at := attempt{lean: a.leanNext}
	res, err := a.send(ctx, &at)
	if err != nil {
		if !reply.FromServer(err) || reply.MultiRefused(err) {
			// a refused MULTI ran the acquire on its own, unread
			a.unsure = true
		}
		if ctx.Err() != nil {
			return at, fmt.Errorf("%w: Acquire(%q): %w", errs.NotSent, a.key, ctx.Err())
		}
		return at, failed("Acquire", a.key, err, errs.NotSent)
	}
	switch {
	case res >= 0:
		at.ok, at.fence = true, res
	case res == -1:
		// Only a request that arrived after giveUp sees this, and giveUp
		// runs after the last attempt: a mistake if Acquire ever meets it.
		a.unsure = true
		return at, fmt.Errorf("%w: Acquire(%q): %w", errs.NotAcquired, a.key, errVoid)
	case res == -2:
		// held by a key without a TTL: at.pttl stays 0, unknown
	default:
		at.pttl = time.Duration(-3-res) * time.Millisecond
	}
	return at, nil
}

// send sends the acquire call and returns its reply (see acquire in
// lock.lua), noting in at when the request was sent. A network error in a transaction (which go-redis does
// not retry) is retried once here with the same token: the acquire entry is
// idempotent for its token.
func (a *acquirer) send(ctx context.Context, at *attempt) (int64, error) {
	fn, args := a.fn, a.cmd
	if at.lean {
		fn, args = a.leanFn, a.lean
	}
	netErr, missing := 0, 0
	for {
		at.start = time.Now()
		if a.o.load == nil {
			// One command; go-redis retries it on network errors, which is
			// safe because the entry is idempotent for its token. Run
			// loads the library or falls back to scripts as needed.
			return fn.Run(ctx, a.rdb, args).Int64()
		}
		pipe, cmd := a.queue(ctx, fn, args)
		_, _ = pipe.Exec(ctx) // its error is the first failed command's, maybe one of Load's
		res, err := cmd.Int64()
		if err != nil && missing < 3 && script.Missing(err) {
			// The server lacked the function or the script (a restart,
			// FUNCTION FLUSH, SCRIPT FLUSH, a server without functions),
			// or the user may not FCALL: nothing ran. Recover makes the
			// next Queue succeed (it ends in EVAL, which cannot miss).
			again, lerr := fn.Recover(ctx, a.rdb, err)
			if lerr != nil {
				err = lerr
			} else if again {
				missing++
				continue
			}
		}
		if err != nil && !reply.FromServer(err) && ctx.Err() == nil && netErr == 0 {
			a.unsure = true
			netErr++
			continue
		}
		return res, err
	}
}

// queue queues an attempt with Load: the acquire call, then what Load
// queues. When Load queues one command or none, they go in a plain
// pipeline: on one connection, Load's read runs right after the acquire,
// and another client's command run between them could as well have run
// after the read (a holder of the lock cannot write then; anyone else can
// write before or after the read in either form). MULTI/EXEC would cost
// the server two more commands and the client a transaction. Two or more
// commands of Load go in MULTI/EXEC with the acquire, so that they read
// one state: Load is called again, on a transaction, the first time it
// queues more than one.
func (a *acquirer) queue(ctx context.Context, fn *script.Func, args []any) (redis.Pipeliner, *redis.Cmd) {
	for {
		var pipe redis.Pipeliner
		if a.tx {
			pipe = a.rdb.TxPipeline()
		} else {
			pipe = a.rdb.Pipeline()
		}
		cmd := fn.Queue(ctx, a.rdb, pipe, args)
		a.o.load(pipe)
		if a.tx || pipe.Len() <= 2 {
			return pipe, cmd
		}
		a.tx = true
	}
}

// Lock is a held lock. Its methods are safe for concurrent use. Every Lock
// must end with Release or Forget; until then an AutoExtend watchdog keeps
// it alive. Only Acquire makes one: on a nil or zero Lock, Release and
// Extend return an error wrapping rapyer.ErrInvalid and send nothing,
// Context and Bind give a context cancelled with that cause, Forget does
// nothing, and Key, Token and Fence give "" and 0.
type Lock struct {
	rdb    redis.UniversalClient
	key    string
	token  string
	tokArg any // &token, for the entries' arguments (see newAcquirer)
	keyArg any // &key, for them
	fence  int64
	ttl    time.Duration
	parent context.Context // Acquire's context, for its values

	mu         sync.Mutex
	state      state
	cause      error     // why the lock was lost, once state == lost
	validUntil time.Time // local estimate of when the key expires
	// The Context and the timer that cancels it at validUntil are made on
	// the first call of Context: most holders never ask, and an uncontended
	// lock cycle should cost little more than its two round trips.
	ctx    context.Context
	cancel context.CancelCauseFunc
	expiry *time.Timer
	bound  []context.CancelCauseFunc // of the contexts of Bind, cancelled as ctx is
	// bound1 holds the first of bound, without an allocation of its own
	// (Model.Lock binds one context per lock)
	bound1 [1]context.CancelCauseFunc

	// rctx and args are Release's context and call, in the Lock to save
	// their allocations (Release runs once: see finish)
	rctx releaseCtx
	args [5]any

	stopWatchdog context.CancelFunc // nil without AutoExtend
	watchdog     chan struct{}      // closed when the watchdog goroutine is done
}

type state uint8

const (
	held     state = iota
	lost           // known lost: expired or taken over; Release still tries
	released       // Release or Forget was called
)

func newLock(ctx context.Context, a *acquirer, at attempt) *Lock {
	l := &a.lock // made with a: one allocation fewer a cycle
	l.rdb, l.key, l.token = a.rdb, a.key, a.token
	l.fence, l.ttl = at.fence, a.o.ttl
	l.parent, l.validUntil = ctx, at.start.Add(a.o.ttl)
	l.tokArg, l.keyArg = &l.token, &l.key
	l.bound = l.bound1[:0]
	if a.o.autoExtend {
		var wctx context.Context
		wctx, l.stopWatchdog = context.WithCancel(context.WithoutCancel(ctx))
		l.watchdog = make(chan struct{})
		go l.watch(wctx)
	}
	return l
}

// Key returns the lock's key ("" for a nil or zero Lock).
func (l *Lock) Key() string {
	if l == nil {
		return ""
	}
	return l.key
}

// void is nil for a Lock made by Acquire, else the error wrapping
// rapyer.ErrInvalid that the methods of a nil or zero Lock return (and the
// cause of its Context), instead of a nil dereference. Nothing is sent.
func (l *Lock) void() error {
	switch {
	case l == nil:
		return fmt.Errorf("%w: a nil *lock.Lock: make one with lock.Acquire", errs.Invalid)
	case l.rdb == nil:
		return fmt.Errorf("%w: a zero lock.Lock: make one with lock.Acquire", errs.Invalid)
	}
	return nil
}

// voidContext is the Context of a nil or zero Lock: cancelled, with the
// cause void gives.
func voidContext(err error) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(err)
	return ctx
}

// Token returns the lock's random token: 16 bytes from crypto/rand in hex.
// The lock key holds it while the lock is held. Scripts that write under the
// lock check it (see the package documentation on releasing in a script).
func (l *Lock) Token() string {
	if l == nil {
		return ""
	}
	return l.token
}

// Fence returns the fencing token of this acquisition: strictly greater than
// that of every earlier acquisition of the same key. Pass it to a store that
// rejects writes carrying a smaller fence than one it has seen.
//
// It is the server's clock in microseconds when the lock was taken, or one
// more than the last fence given out, kept at FenceKey(key) for the lock's
// TTL plus a minute past each fenced acquisition, where that is higher. So fences do not go
// backwards whatever becomes of that key (expired, evicted, or an older
// value restored from a snapshot or a lagging replica): every fence is at
// most the server's clock at the end of the call that gave it out, since
// each call takes the server more than a microsecond, and the clock has
// moved past every earlier fence by then. They can go backwards only if the
// server's clock steps back by more than both the fence key's lifetime and
// the time since the last fenced acquisition, or a failover promotes a
// replica whose clock is that far behind (see the package documentation). A lock taken with
// Options.NoFence has none: Fence returns 0.
func (l *Lock) Fence() int64 {
	if l == nil {
		return 0
	}
	return l.fence
}

// Context returns a context that is cancelled when the lock is released
// (Release or Forget; cause context.Canceled) or known lost (cause wraps
// rapyer.ErrNotHeld): an extension found another token or no key, or the TTL ran
// out locally without a successful extension. It carries the values of the
// context given to Acquire but not its cancellation or deadline: those bound
// the wait, not the lock. Work done under the lock should stop when it is
// done. Once cancelled it stays cancelled.
func (l *Lock) Context() context.Context {
	if err := l.void(); err != nil {
		return voidContext(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx != nil {
		return l.ctx
	}
	l.ctx, l.cancel = context.WithCancelCause(context.WithoutCancel(l.parent))
	now := time.Now()
	l.lapse(now)
	switch l.state {
	case held:
		if l.expiry == nil { // else Bind made it
			l.expiry = time.AfterFunc(l.validUntil.Sub(now), l.expired)
		}
	case lost:
		l.cancel(l.cause) // under mu: nobody else has the context yet
	case released:
		l.cancel(nil)
	}
	return l.ctx
}

// Extend sets the lock's remaining TTL to ttl (zero means the lock's TTL) if
// the lock key still holds this lock's token. It returns an error wrapping
// rapyer.ErrNotHeld, and cancels Context, if the lock was lost; it returns
// rapyer.ErrNotHeld without a round trip after Release, once the lock is known
// lost, or once its TTL has passed by the local clock. Other errors
// (network, ctx) leave the lock as it was.
func (l *Lock) Extend(ctx context.Context, ttl time.Duration) error {
	if err := errs.NilContext(ctx, "Extend"); err != nil {
		return err // the lock as it was
	}
	if err := l.void(); err != nil {
		return err
	}
	switch {
	case ttl == 0:
		ttl = l.ttl
	case ttl < 0 || ttl > optcheck.MaxLockTTL:
		return fmt.Errorf("%w: Extend(%q): a TTL of %v, negative or longer than a lock can live", errs.Invalid, l.key, ttl)
	case ttl%time.Millisecond != 0:
		ttl = ttl.Truncate(time.Millisecond) + time.Millisecond
	}
	if err := l.check(); err != nil {
		return err
	}
	start := time.Now()
	cmd := script.Command([]string{l.key, FenceKey(l.key)}, l.tokArg, ttl.Milliseconds(), (ttl + fenceMargin).Milliseconds())
	n, err := lua.Extend.Run(ctx, l.rdb, cmd).Int64()
	if err != nil {
		kind := lostOrUnsent(err)
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return failed("Extend", l.key, err, kind)
	}
	if n == 0 {
		return l.lose(fmt.Errorf("%w: Extend(%q): the key no longer holds this lock's token", errs.NotHeld, l.key))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != held {
		return l.notHeld()
	}
	l.validUntil = start.Add(ttl)
	if l.expiry != nil {
		l.expiry.Reset(time.Until(l.validUntil))
	}
	return nil
}

// check returns the error a lock that is not held reports, marking it lost
// if its TTL has passed by the local clock.
func (l *Lock) check() error {
	l.mu.Lock()
	switch {
	case l.state != held:
		defer l.mu.Unlock()
		return l.notHeld()
	case !time.Now().Before(l.validUntil):
		l.mu.Unlock()
		return l.lose(l.ttlElapsed())
	}
	l.mu.Unlock()
	return nil
}

// notHeld is the error of a lock that is not held. Call with mu held.
func (l *Lock) notHeld() error {
	if l.state == lost {
		return l.cause
	}
	return fmt.Errorf("%w: %q: released already", errs.NotHeld, l.key)
}

func (l *Lock) ttlElapsed() error {
	return fmt.Errorf("%w: %q: TTL elapsed without an extension", errs.NotHeld, l.key)
}

// Release deletes the lock key if it still holds this lock's token and wakes
// a waiter if any waits, stops the watchdog, and cancels Context. It runs even if ctx
// is already cancelled: it uses ctx's values but a timeout of its own (5s, or up to a tenth of a second more).
//
// It returns an error wrapping rapyer.ErrNotHeld if the key no longer held the
// token (the lock had expired or been taken over), and on a second call
// (after Release or Forget) without a round trip. A Release whose reply was
// lost and which go-redis then sent again may also report rapyer.ErrNotHeld: the
// lock is gone either way.
func (l *Lock) Release(ctx context.Context) error {
	if err := errs.NilContext(ctx, "Release"); err != nil {
		return err // the lock as it was: Release it again with a context
	}
	if err := l.void(); err != nil {
		return err
	}
	if err := l.finish(); err != nil {
		return err
	}
	l.rctx = withReleaseTimeout(ctx)
	rctx := &l.rctx
	if w := offer(l.rdb, l.key); w != nil {
		if done, err := l.pass(rctx, w); done {
			return err
		}
	}
	l.args = [...]any{nil, nil, 1, l.keyArg, l.tokArg} // as script.Command lays it out
	n, err := lua.Release.Run(rctx, l.rdb, l.args[:]).Int64()
	if err != nil {
		return failed("Release", l.key, err, lostOrUnsent(err))
	}
	switch n {
	case 0:
		return fmt.Errorf("%w: Release(%q): released after it was lost", errs.NotHeld, l.key)
	case 2:
		counts.announced.Add(1)
	}
	return nil
}

// pass releases the lock and hands it to w, a waiter of this client, in one
// call, when no waiter of another client waits (see pass in lock.lua). done
// is false when the server refused the call, before doing anything (a
// server out of memory): Release then releases the plain way.
func (l *Lock) pass(ctx context.Context, w *waiter) (done bool, err error) {
	start := time.Now()
	// laid out as script.Command does: the entry names the lock's other
	// keys and the wake channel after the lock key
	cmd := []any{nil, nil, 1, l.keyArg, l.tokArg, w.tok, w.ttl.Milliseconds(), w.life.Milliseconds(), clientID(l.rdb)}
	res, err := lua.Pass.Run(ctx, l.rdb, cmd).Int64()
	if err != nil {
		if reply.FromServer(err) {
			w.settle(grant{}, false, false)
			return false, nil
		}
		w.settle(grant{}, false, true)
		return true, failed("Release", l.key, err, lostOrUnsent(err))
	}
	// res: the fence handed over with the lock (>= 0), or -3 released and
	// announced, -2 released, -1 not held
	code, fence := int64(3), res
	if res < 0 {
		code, fence = -1-res, 0
	}
	w.settle(grant{fence: fence, start: start}, code == 3, false)
	switch code {
	case 0:
		return true, fmt.Errorf("%w: Release(%q): released after it was lost", errs.NotHeld, l.key)
	case 2:
		counts.announced.Add(1)
	case 3:
		counts.handed.Add(1)
	}
	return true, nil
}

// Forget stops the watchdog, cancels Context and marks the lock released
// without a round trip. It is for callers that released the lock themselves
// inside a script of their own (for example a fenced save-and-release). Such
// a script must do, atomically:
//
//	if redis.call('GET', lockKey) == token then
//	    redis.call('DEL', lockKey)
//	    if redis.call('EXISTS', lockKey .. ':fence:wait') == 1 then -- someone waits
//	        redis.pcall('PUBLISH', WakeChannel(lockKey), lockKey)
//	    end
//	    -- ... its own writes ...
//	end
//
// The PUBLISH (which may also be sent always) wakes a waiter at once; without it they only notice the
// release at their next poll (at most RetryMax later). Run it so that a
// refusal (a user without channel permission) does not fail the script
// after its DEL: redis.pcall, or ask redis.acl_check_cmd first.
func (l *Lock) Forget() {
	if l.void() == nil {
		_ = l.finish()
	}
}

// finish moves the lock to released, stops its timer and watchdog and
// cancels its context. It returns an error if it was already released.
func (l *Lock) finish() error {
	l.mu.Lock()
	if l.state == released {
		defer l.mu.Unlock()
		return l.notHeld()
	}
	l.state = released
	cancel, bound := l.cancel, l.bound
	if l.expiry != nil {
		l.expiry.Stop()
	}
	l.mu.Unlock()
	if cancel != nil {
		cancel(nil) // no-op if lose already cancelled it
	}
	for _, c := range bound {
		c(nil)
	}
	if l.stopWatchdog != nil {
		l.stopWatchdog()
		<-l.watchdog
	}
	return nil
}

// lose marks a held lock lost and cancels its context with cause. It returns
// the error the lock now reports.
func (l *Lock) lose(cause error) error {
	l.mu.Lock()
	if l.state != held {
		defer l.mu.Unlock()
		return l.notHeld()
	}
	l.state, l.cause = lost, cause
	cancel, bound := l.cancel, l.bound
	if l.expiry != nil {
		l.expiry.Stop()
	}
	l.mu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
	for _, c := range bound {
		c(cause)
	}
	return cause
}

// expired runs when the local estimate of the key's expiry passes.
func (l *Lock) expired() {
	l.mu.Lock()
	stale := time.Now().Before(l.validUntil) // an Extend moved the deadline meanwhile
	l.mu.Unlock()
	if !stale {
		_ = l.lose(l.ttlElapsed())
	}
}

// watch extends the lock every TTL/3 until ctx is done (Release or Forget)
// or the lock is lost.
func (l *Lock) watch(ctx context.Context) {
	defer close(l.watchdog)
	every := max(l.ttl/3, time.Millisecond)
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ectx, cancel := context.WithTimeout(ctx, every)
		err := l.Extend(ectx, l.ttl)
		cancel()
		switch {
		case err == nil:
			t.Reset(every)
		case errors.Is(err, errs.NotHeld):
			return // lost or released; Extend cancelled the Context
		default:
			// A network error: try again soon. If nothing succeeds before the
			// TTL runs out, the next Extend reports the lock lost.
			t.Reset(max(every/4, time.Millisecond))
		}
	}
}

// lostOrUnsent is the sentinel of a write's error that is not the server's
// reply: errs.NotSent when the request never left the client (a closed
// client, a failed dial, a context that ended first), errs.UnknownOutcome
// otherwise (its reply was lost).
func lostOrUnsent(err error) error {
	if reply.Unsent(err) {
		return errs.NotSent
	}
	return errs.UnknownOutcome
}

// failed types an error of the server or the network met by op: a refusal
// of the server (errs.NoPermission, errs.Refused), or else unsent (the
// sentinel of what a failure in flight means to op: errs.NotSent, or
// errs.UnknownOutcome). err stays wrapped.
func failed(call, key string, err, unsent error) error {
	op := fmt.Sprintf("%s(%q)", call, key)
	if reply.FromServer(err) && strings.Contains(err.Error(), "WRONGTYPE") {
		// the lock key (or a key named after it) holds another Redis
		// type; miniredis wraps the refusal in a script error
		return errs.At(op, fmt.Errorf("%w: %w", errs.WrongType, err))
	}
	if reply.FromServer(err) && redis.HasErrorPrefix(err, "CORRUPT") {
		// the fence key holds a string that is no fence (lock.lua's
		// nextfence): bookkeeping someone else wrote
		return errs.At(op, fmt.Errorf("%w: %w", errs.Corrupt, err))
	}
	if reply.FromServer(err) {
		err = reply.Refused(err)
		if errors.Is(err, errs.CrossSlot) {
			err = fmt.Errorf("%w%s", err, tagHint(key))
		}
		return errs.At(op, err)
	}
	return fmt.Errorf("%w: %s: %w", unsent, op, err)
}
