package lock_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// Options: a zero field is the default, NoWait (the one named negative
// value) tries once, and any other negative value is refused with
// rapyer.ErrInvalid naming the field, before anything is sent.
func ExampleOptions() {
	rdb, stop := embedded()
	defer stop()
	ctx := context.Background()
	key := "report:{daily}:lock:build"

	held, _ := lock.Acquire(ctx, rdb, key, lock.Options{TTL: time.Minute})
	_, err := lock.Acquire(ctx, rdb, key, lock.Options{Wait: lock.NoWait})
	fmt.Println("held elsewhere:", errors.Is(err, rapyer.ErrNotAcquired))
	_ = held.Release(ctx)

	_, err = lock.Acquire(ctx, rdb, key, lock.Options{RetryMin: -time.Millisecond})
	fmt.Println(errors.Is(err, rapyer.ErrInvalid))
	fmt.Println(err)
	// Output:
	// held elsewhere: true
	// true
	// rapyer: invalid argument: lock.Options.RetryMin: a negative wait -1ms; give a positive one, or zero for the default
}
