package lock_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// embedded starts an in-process Redis (miniredis) and a client for it.
func embedded() (*redis.Client, func()) {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	return rdb, func() { _ = rdb.Close(); mr.Close() }
}

// Take a lock, work under it, release it. The zero Options work: TTL 10s,
// wait up to 10s.
func Example() {
	rdb, stop := embedded()
	defer stop()
	ctx := context.Background()

	l, err := lock.Acquire(ctx, rdb, "account:{alice}:lock:withdraw", lock.Options{})
	if err != nil {
		fmt.Println("acquire:", err)
		return
	}
	fence := l.Fence()
	// ... work, passing l.Fence() to anything that can reject stale writers ...
	if err := l.Release(ctx); err != nil {
		fmt.Println("release:", err)
	}

	l, _ = lock.Acquire(ctx, rdb, "account:{alice}:lock:withdraw", lock.Options{})
	fmt.Println("the next fence is larger:", l.Fence() > fence)
	_ = l.Release(ctx)
	// Output:
	// the next fence is larger: true
}

// The three ways a wait ends without the lock.
func Example_errors() {
	rdb, stop := embedded()
	defer stop()
	ctx := context.Background()
	key := "job:{42}:lock:run"

	held, _ := lock.Acquire(ctx, rdb, key, lock.Options{TTL: time.Minute})
	defer held.Release(ctx)

	_, err := lock.Acquire(ctx, rdb, key, lock.Options{Wait: lock.NoWait})
	fmt.Println("no wait:", errors.Is(err, rapyer.ErrNotAcquired))

	_, err = lock.Acquire(ctx, rdb, key, lock.Options{Wait: 20 * time.Millisecond})
	fmt.Println("bounded wait:", errors.Is(err, rapyer.ErrNotAcquired))

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = lock.Acquire(cctx, rdb, key, lock.Options{})
	fmt.Println("cancelled:", errors.Is(err, context.Canceled))
	// Output:
	// no wait: true
	// bounded wait: true
	// cancelled: true
}

// With AutoExtend a watchdog keeps the lock alive; the lock's Context tells
// the work when the lock is lost.
func ExampleLock_Context() {
	rdb, stop := embedded()
	defer stop()
	ctx := context.Background()
	key := "report:{daily}:lock:build"

	l, _ := lock.Acquire(ctx, rdb, key, lock.Options{TTL: 300 * time.Millisecond, AutoExtend: true})
	rdb.Del(ctx, key) // someone breaks the lock by hand

	<-l.Context().Done() // the watchdog's next extension finds it gone
	fmt.Println("lost:", errors.Is(context.Cause(l.Context()), rapyer.ErrNotHeld))
	fmt.Println("release:", errors.Is(l.Release(ctx), rapyer.ErrNotHeld))
	// Output:
	// lost: true
	// release: true
}

// Options.Load reads what the lock guards in the same round trip as the
// acquisition.
func ExampleOptions_load() {
	rdb, stop := embedded()
	defer stop()
	ctx := context.Background()
	rdb.HSet(ctx, "account:{bob}", "balance", 100)

	var balance *redis.StringCmd
	l, err := lock.Acquire(ctx, rdb, "account:{bob}:lock:withdraw", lock.Options{
		Load: func(pipe redis.Pipeliner) { balance = pipe.HGet(ctx, "account:{bob}", "balance") },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Release(ctx)
	fmt.Println("balance:", balance.Val())
	// Output:
	// balance: 100
}

// A caller that releases the lock in a script of its own (here: save and
// release together, only if the lock is still held) calls Forget afterwards.
func ExampleLock_Forget() {
	rdb, stop := embedded()
	defer stop()
	ctx := context.Background()
	key := "account:{carol}:lock:deposit"

	saveAndRelease := redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'balance', ARGV[3])
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], KEYS[1])
return 1`)

	l, _ := lock.Acquire(ctx, rdb, key, lock.Options{})
	n, err := saveAndRelease.Run(ctx, rdb, []string{key, "account:{carol}"},
		l.Token(), lock.WakeChannel(key), 250).Int()
	l.Forget()
	fmt.Println("saved:", n == 1 && err == nil, rdb.HGet(ctx, "account:{carol}", "balance").Val())
	fmt.Println("lock key left:", rdb.Exists(ctx, key).Val())
	// Output:
	// saved: true 250
	// lock key left: 0
}
