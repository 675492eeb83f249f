// Package lock provides named distributed locks on Redis: a random token
// per holder, a TTL, token-checked release and extension, a watchdog that
// can keep a lock alive, a fencing token per acquisition, and waiting that
// is bounded, jittered, honours the context and is woken as soon as the lock
// is released.
//
// # Use
//
//	l, err := lock.Acquire(ctx, rdb, "account:{alice}:lock:withdraw", lock.Options{})
//	if err != nil {
//		return err // rapyer.ErrNotAcquired, rapyer.ErrNotSent (ctx ended), ...
//	}
//	defer l.Release(ctx)
//	// work; pass l.Fence() to whatever can reject stale writers;
//	// stop when l.Context() is done.
//
// The zero Options work: a TTL of 10s, a wait of up to 10s, a backoff
// between attempts of 1ms to 50ms with jitter, no watchdog. Options.Wait set
// to NoWait tries once.
//
// # What a lock guarantees
//
// While Acquire's lock is held, no other Acquire of the same key succeeds:
// the lock key holds this lock's token, set only if the key was absent.
// Release and Extend act only if the key still holds the token, so a holder
// whose lock expired can never remove or extend the next holder's lock.
//
// The guarantee rests on assumptions, and a caller should know them:
//
//   - One primary. The lock lives on the one Redis primary that owns its key.
//     Replication is asynchronous: if the primary fails and a replica that
//     had not yet received the lock key is promoted, the lock is gone and a
//     second holder can acquire it. (This package does not implement
//     Redlock.) Fences come from the server's clock, so a failover repeats
//     one only if the promoted replica's clock is behind by more than the
//     time since the last acquisition: fencing protects against paused and
//     expired holders, not against a failover that lost writes.
//   - No eviction of lock keys. They have a TTL, so volatile-* memory
//     policies may evict a held lock, which is an early expiry (fenced
//     writes are then refused, others are not). Use noeviction.
//   - Work ends within the TTL. Without AutoExtend a lock simply expires
//     after its TTL, however long the holder's work takes. The holder's
//     Context is cancelled when the TTL has passed by the local clock
//     (measured from before the acquire request was sent, so it fires no
//     later than the server expires the key, clock drift aside), but a
//     holder paused by the garbage collector, a swap storm or a debugger
//     notices nothing until it runs again. Work that can overrun its TTL
//     should use AutoExtend, check Context, and fence its writes.
//   - Clocks run at roughly the same rate on the client and the server over
//     one TTL. Their absolute times do not matter.
//
// # Fencing
//
// Every successful acquisition gets a fencing token, Lock.Fence, strictly
// greater than the fence of every earlier acquisition of the key: the
// server's clock in microseconds, read by the same call that takes the
// lock, or one more than the last fence, kept at FenceKey(key), where that
// is higher (a clock that stepped back). A holder passes its fence along
// with its writes, and the store keeps the highest fence it has seen and
// rejects writes with a lower one. A holder that lost its lock while paused
// then cannot overwrite the work of the holder after it, even though it
// still believes it holds the lock. Every fenced acquisition writes the
// fence key with the lock's TTL plus a minute (an extension lengthens it
// when shorter); its loss (expiry, eviction, an older value restored) does
// not make fences go backwards (see Lock.Fence for why).
// A caller that fences its writes by the lock's token in the same atomic
// step (ops.Fenced) needs no number: Options.NoFence skips the fence and
// its server work; the other acquisitions' fences still increase.
//
// The keys of one lock, the lock key, FenceKey(key) and the marker of a
// given-up acquisition (FenceKey(key)+":"+token), must hash to one cluster
// slot. They append to the key, which keeps its hash tag, so give lock keys
// a hash tag ("account:{alice}:lock:withdraw"). On a cluster a key without
// one ("lock:alice", or an empty tag as in "a{}b") is refused by the
// server at the script's first call, which touches a key named after it,
// before anything is written: Acquire returns rapyer.ErrCrossSlot, saying
// to add a tag. (It is not checked before sending: a context that ended
// or a closed client still gives rapyer.ErrNotSent with its own cause.)
// On a single server any key works.
// rapyer's model locks ("<prefix>:{<id>}:lock:<action>") always have one.
// No lock key may end in ":fence" or hold ":fence:" (Acquire refuses it):
// it could be another lock's fence key.
//
// # The lock's Context
//
// Lock.Context is cancelled when the lock is released (Release or Forget;
// its cause is then context.Canceled) or known to be lost (its cause wraps
// rapyer.ErrNotHeld): an Extend (yours or the watchdog's) found another token or no
// key, or the TTL ran out locally without a successful extension. It keeps
// the values of the context given to Acquire but not its deadline or
// cancellation: the caller's context bounds the wait for the lock, not the
// life of the lock. Once cancelled it stays cancelled.
//
// # Auto-extension
//
// With Options.AutoExtend a watchdog goroutine extends the lock by its TTL
// every TTL/3 until Release or Forget. If an extension finds the lock lost,
// the Context is cancelled and the watchdog stops. A network error is
// retried sooner (every TTL/12); if no extension succeeds before the TTL
// runs out, the Context is cancelled. Release and Forget wait for the
// watchdog to stop, so no goroutine outlives its lock.
//
// # Waiting and the hand-off on release
//
// A release PUBLISHes on the key's wake channel, WakeChannel(key), if
// someone waits: an attempt that finds the lock held, of a caller that will
// wait, also sets a short-lived flag next to the lock key (in the same call;
// it lives 3*RetryMax plus half a second past the waiter's last attempt),
// and a release announces itself only while the flag exists. So a release
// with nobody waiting sends no PUBLISH. (A caller's first attempt, made
// while no waiter of its client waits for the key, is sent as one that
// will not wait, naming no waiter: most acquisitions win at once. One that
// finds the lock held is sent again at once, naming the waiter's client,
// and that attempt sets the flag: one round trip more for a caller that
// waits.) A waiter subscribes to the channel before its next attempt, and
// the package keeps one
// Pub/Sub connection per client on which the channels of all keys being
// waited for are multiplexed, read by one goroutine. A release wakes the
// longest-waiting local waiter of the key, which tries again at once, so a
// waiter learns of a release within about one round trip instead of at its
// next poll. Waking one waiter rather than all of them keeps a release from
// sending a herd of attempts of which only one can win; a waiter that gives
// up passes its wake-up on.
//
// A user who may not use the wake channel (on Redis 7 new users have no
// channel permission) still releases without error: the PUBLISH is skipped.
// Its waiters' SUBSCRIBE is refused; they notice and poll from RetryMin.
//
// Between wake-ups a waiter polls, never sleeping past the holder's
// remaining TTL: every RetryMax/2 to RetryMax while its subscription is
// live, or with jittered exponential backoff from RetryMin to RetryMax if
// the subscription is not confirmed. The polling is the fallback that makes
// a lost message harmless: a reconnect of the Pub/Sub connection (after
// which every waiter is woken anyway), a holder that died without
// releasing, or a release by a script that did not PUBLISH only delays a
// waiter until its next poll; so does a waiter stalled past its flag's
// lifetime, or one of an older version, which sets no flag.
//
// A waiter waits for its subscription before its next attempt, so that a
// release between its first attempts and the subscription is not missed.
// If the key's wake channel is already live (others wait on it), a waiter
// joins before its first attempt instead, which then names it: that costs
// no I/O and saves the attempts after the first.
//
// The waiters of one client take turns: a caller that finds others of its
// client already queued for the key waits behind them for a wake-up (or its
// poll) instead of trying at once, and a wake-up goes to the longest
// waiting. So under contention in one process the lock passes from waiter
// to waiter in order, one attempt per acquisition, rather than the releaser
// taking it straight back while the waiter it woke tries in vain. Across
// clients locks are not fair: a caller of another client, or a waiter's
// poll, takes a lock that happens to be free (as with sync.Mutex).
//
// Release hands the lock straight to the longest-waiting waiter of its own
// client when it can: in the same call that deletes the holder's token, the
// lock key takes the waiter's token and TTL and the waiter its fencing
// token, exactly as if its own attempt had run right after the release,
// and the waiter learns it in the process, without a round trip of its own
// and without a PUBLISH. A hand-over under contention costs one round trip
// per acquisition instead of three (release, wake-up message, attempt). It
// happens only while no waiter of another client has flagged itself (the
// flag names the client whose waiters set it, and once waiters of two
// clients did, it says so until it expires), so the waiters of other
// processes are not passed over: then Release releases and announces as
// above. A waiter with Options.Load is never handed the lock (its Load runs
// with its attempt); it is woken instead. A waiter that gives up while a
// release may be handing it the lock gives its acquisition up like one
// whose reply was lost (see Acquire): the lock is released again, or the
// hand-over refused.
//
// The Pub/Sub connection and its goroutine exist only while some goroutine
// of the process waits on that client, and for 100ms after, so they
// do not resubscribe on every wait of a busy lock. On a Redis Cluster
// PUBLISH is broadcast to every node over the cluster bus, so the
// subscriber may sit on any node.
//
// # Releasing in a script of your own
//
// A caller that releases the lock inside a script of its own, for example
// to save its changes and release the lock in one atomic step, calls
// Lock.Forget afterwards: it stops the watchdog and cancels Context without
// a round trip. The script must check the token, delete the key and
// announce the release, at least when the wait flag FenceKey(lockKey)+":wait"
// exists (announcing always is harmless):
//
//	if redis.call('GET', lockKey) == token then
//	    redis.call('DEL', lockKey)
//	    if redis.call('EXISTS', lockKey .. ':fence:wait') == 1 then
//	        redis.pcall('PUBLISH', WakeChannel(lockKey), lockKey)
//	    end
//	    -- its own writes
//	end
//
// (pcall, or a check with redis.acl_check_cmd first: a release must not
// fail after its DEL because the user may not publish.)
//
// # Retries and unknown outcomes
//
// Every script of this package is idempotent for a token, which makes
// go-redis' retries of a command whose reply was lost harmless: acquiring
// again with a token the key already holds reports the same acquisition
// and fence; releasing or extending again is token-checked. An acquisition
// with Options.Load runs in a pipeline, or in MULTI/EXEC when Load queues
// two commands or more, which go-redis does not retry; Acquire retries
// either once itself with the same token. When Acquire gives up after an
// attempt whose outcome is unknown (a network error, or ctx ending while a
// request was in flight), it gives the acquisition up before returning: one
// call releases the lock if the token holds it and sets a marker that makes
// any request of this acquisition still on its way (on a connection
// abandoned at a deadline, so nothing orders it after the clean-up) refuse
// to take the lock. Neither a lost reply nor a late request leaves a lock
// behind. A Release whose reply was lost may report rapyer.ErrNotHeld after
// go-redis resent it: the lock is gone either way.
//
// The Lua runs as entries of rapyer-go's function library (FCALL) where the
// server has functions, loading it when it is missing, and as scripts
// (EVALSHA, EVAL on NOSCRIPT) elsewhere, also inside the pipeline of
// Options.Load; so FUNCTION FLUSH, SCRIPT FLUSH, a restart or a failover are
// invisible to callers, and a user allowed FCALL but not EVAL can lock (it
// needs the commands the entries call: EXISTS SET GET DEL PEXPIRE PTTL TIME
// PUBLISH; see docs/locks.md).
//
// # Reentrancy
//
// Locks are not reentrant. A second Acquire of a held key waits like any
// other caller, even from the goroutine that holds it, and with the default
// Wait ends in rapyer.ErrNotAcquired after 10s. Go has no goroutine identity to
// tie ownership to, a named owner would make a lost lock ambiguous (which
// acquisition lost it?), and the model layer never needs to re-take a lock
// it holds: code that must run under a lock it may already hold should take
// the *Lock as a parameter.
//
// # Errors
//
// The errors are those of package rapyer, their one home. Acquire returns
// an error wrapping rapyer.ErrNotAcquired when the wait ends with the lock
// still held elsewhere; rapyer.ErrNotSent wrapping the context's error
// (errors.Is holds with context.Canceled or context.DeadlineExceeded) when
// ctx ends first, or the network's; rapyer.ErrNoPermission or
// rapyer.ErrRefused for a refusal of the server; rapyer.ErrCorrupt when the
// fence key holds a string that is no fence, rapyer.ErrWrongType when a key
// of the lock holds another Redis type; rapyer.ErrCrossSlot for
// a key without a hash tag on a cluster;
// rapyer.ErrInvalid for a bad key or option. Release and Extend return an error wrapping
// rapyer.ErrNotHeld when the key does not hold the lock's token, and
// rapyer.ErrUnknownOutcome when the reply was lost.
package lock
