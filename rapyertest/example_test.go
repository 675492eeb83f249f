package rapyertest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/rapyertest"
	"github.com/rapyer-go/rapyer/tx"
)

// Account and Withdraw stand for the code under test.
type Account struct {
	Balance int
	History []string
}

var (
	Balance = lens.Of(func(a *Account) *int { return &a.Balance })
	History = lens.Of(func(a *Account) *[]string { return &a.History })
)

// Withdraw takes amount from account id if the balance covers it.
func Withdraw(ctx context.Context, accounts *rapyer.Model[Account], id string, amount int) error {
	_, err := accounts.Exec(ctx, id, tx.Of(
		ops.Require(is.AtLeast(Balance, amount)),
		ops.Decr(Balance, amount),
		ops.Append(History, "withdraw"),
	))
	return err
}

// A test of code that uses rapyer-go, as it reads in a _test.go file of
// yours: Model gives the test a model of its own, on a fresh embedded
// miniredis, or on the server of REDIS_URL under a prefix whose keys are
// deleted when the test ends. (TestWithdraw in this package runs this body.)
func ExampleModel() {
	var t *testing.T // func TestWithdraw(t *testing.T) {
	ctx := t.Context()
	accounts := rapyertest.Model[Account](t, rapyer.Options{})
	if err := accounts.Save(ctx, "alice", Account{Balance: 100}); err != nil {
		t.Fatal(err)
	}

	if err := Withdraw(ctx, accounts, "alice", 30); err != nil {
		t.Fatal(err)
	}
	if err := Withdraw(ctx, accounts, "alice", 100); !errors.Is(err, rapyer.ErrPrecondition) {
		t.Fatalf("overdraft: got %v, want ErrPrecondition", err)
	}
	a, err := accounts.Get(ctx, "alice")
	if err != nil || a.Balance != 70 || len(a.History) != 1 {
		t.Fatalf("got %+v, %v", a, err)
	}
}

// Expiry on the embedded server: time moves only when the test says so.
func ExampleMiniredis() {
	var t *testing.T // func TestSessionExpires(t *testing.T) {
	ctx := t.Context()
	sessions := rapyertest.Model[Account](t, rapyer.Options{TTL: time.Hour})
	_ = sessions.Save(ctx, "s1", Account{})

	mr := rapyertest.Miniredis(t)
	if mr == nil {
		t.Skip("on REDIS_URL: an hour would really pass")
	}
	mr.FastForward(time.Hour)
	if ok, _ := sessions.Exists(ctx, "s1"); ok {
		t.Fatal("the session outlived its TTL")
	}
}

// DeletePrefix is the cleanup Client runs on a shared server: it deletes the
// keys under one prefix, found with SCAN, and leaves every other key alone.
func ExampleDeletePrefix() {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	for _, k := range []string{"rt_mytest_1_account:{a}", "rt_mytest_1_account:{b}", "production:{a}"} {
		rdb.Set(ctx, k, "x", 0)
	}
	if err := rapyertest.DeletePrefix(ctx, rdb, "rt_mytest_1_"); err != nil {
		panic(err)
	}
	fmt.Println(rdb.Keys(ctx, "*").Val())

	err = rapyertest.DeletePrefix(ctx, rdb, "*")
	fmt.Println(errors.Is(err, rapyer.ErrInvalid))
	// Output:
	// [production:{a}]
	// true
}
