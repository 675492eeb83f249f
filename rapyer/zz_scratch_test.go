package rapyer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

func TestZZScratch(t *testing.T) {
	owner := lens.Of(func(a *Account) *string { return &a.Owner })
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	history := lens.Of(func(a *Account) *[]string { return &a.History })
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, err := rapyer.New[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "zz"})
		if err != nil {
			t.Fatal(err)
		}
		keysOf := func(id string) string {
			ks, _ := m.Keys(id)
			var out []string
			for _, k := range ks {
				out = append(out, fmt.Sprintf("%s=%s/%d", k, b.Client.Type(ctx, k).Val(), b.Client.PTTL(ctx, k).Val().Milliseconds()))
			}
			return strings.Join(out, " ")
		}
		// 1. Delete of a root-less model
		_ = m.Save(ctx, "a", Account{Owner: "x", History: []string{"h"}})
		k, _ := m.Key("a")
		b.Client.Del(ctx, k)
		ok, err := m.Delete(ctx, "a")
		t.Logf("delete rootless: %v %v; keys %s", ok, err, keysOf("a"))
		// 2. Expire tiny / zero / negative
		for _, d := range []time.Duration{time.Nanosecond, time.Microsecond, 999 * time.Microsecond, 0, -time.Second} {
			_ = m.Save(ctx, "e", Account{Owner: "x", History: []string{"h"}})
			err := m.Expire(ctx, "e", d)
			ex, _ := m.Exists(ctx, "e")
			t.Logf("Expire(%v): %v exists=%v keys %s", d, err, ex, keysOf("e"))
			_, err = m.Exec(ctx, "e", tx.Of(ops.Expire[Account](d)))
			ex, _ = m.Exists(ctx, "e")
			t.Logf("ops.Expire(%v): %v exists=%v", d, err, ex)
		}
		// 3. Record negative / tiny
		for _, r := range []time.Duration{-time.Second, time.Nanosecond, time.Millisecond} {
			_, err := m.Exec(ctx, "e", tx.Of(ops.Set(owner, "y")), rapyer.WithRecord(r))
			t.Logf("WithRecord(%v): %v", r, err)
		}
		// 4. a huge batch
		_ = m.Save(ctx, "h", Account{Owner: "x"})
		var os []ops.Op
		for i := 0; i < 100000; i++ {
			os = append(os, ops.Incr(balance, 1))
		}
		st := time.Now()
		_, err = m.Exec(ctx, "h", tx.Of(os...))
		v, _ := m.Get(ctx, "h")
		t.Logf("100k incr: %v balance=%d in %v", err, v.Balance, time.Since(st))
		os = os[:0]
		for i := 0; i < 100000; i++ {
			os = append(os, ops.Append(history, "v"))
		}
		st = time.Now()
		_, err = m.Exec(ctx, "h", tx.Of(os...))
		v, _ = m.Get(ctx, "h")
		t.Logf("100k append: %v len=%d in %v", err, len(v.History), time.Since(st))
		big := strings.Repeat("x", 20<<20)
		_, err = m.Exec(ctx, "h", tx.Of(ops.Set(owner, big)))
		v, _ = m.Get(ctx, "h")
		t.Logf("20MB set: %v len=%d", err, len(v.Owner))
		err = m.Save(ctx, "h", Account{Owner: big})
		t.Logf("20MB save: %v", err)
	})
}
