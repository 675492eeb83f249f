package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

type ixMember struct {
	Email string
	Score float64
	Tags  []string
}

var (
	mbEmail = lens.Of(func(u *ixMember) *string { return &u.Email })
	mbScore = lens.Of(func(u *ixMember) *float64 { return &u.Score })
	mbTags  = lens.Of(func(u *ixMember) *[]string { return &u.Tags })
)

func ixMembers(t *testing.T, b *testenv.Backend, opts rapyer.Options) (*rapyer.Model[ixMember], ixcheck.Oracle) {
	t.Helper()
	opts.Prefix = b.Prefix + "mb"
	opts.Indexes = []index.Spec{index.Unique(mbEmail), index.On(mbScore), index.Members(mbTags)}
	m, err := rapyer.New[ixMember](b.Client, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, ixcheck.MustNew[ixMember](t, b.Client, opts.Prefix, 1, opts.Indexes, m.IDs)
}

// TestUniqueIndexRefusesDuplicates: every write path that would give a
// second model a taken value fails with ErrDuplicate (and ErrPrecondition),
// naming the field and the value, and writes nothing; a value let go is
// free again, and a model may keep its own.
func TestUniqueIndexRefusesDuplicates(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, o := ixMembers(t, b, rapyer.Options{})
		if err := m.Save(ctx, "ann", ixMember{Email: "ann@x", Score: 1}); err != nil {
			t.Fatal(err)
		}
		if err := m.Save(ctx, "bob", ixMember{Email: "bob@x"}); err != nil {
			t.Fatal(err)
		}
		dup := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, rapyer.ErrDuplicate) || !errors.Is(err, rapyer.ErrPrecondition) || !strings.Contains(err.Error(), "email ann@x") {
				t.Fatalf("%s: %v, want ErrDuplicate naming email ann@x", what, err)
			}
			o.Check(t, what)
		}
		dup("Save", m.Save(ctx, "cat", ixMember{Email: "ann@x"}))
		dup("Create", m.Create(ctx, "cat", ixMember{Email: "ann@x"}))
		_, err := m.Insert(ctx, ixMember{Email: "ann@x"})
		dup("Insert", err)
		_, err = m.Exec(ctx, "bob", tx.Of(ops.Set(mbEmail, "ann@x"), ops.Set(mbScore, 9)))
		dup("Exec Set", err)
		_, err = m.Exec(ctx, "bob", tx.Of(ops.Set(mbEmail, "ann"), ops.AppendText(mbEmail, "@x")))
		dup("Exec AppendText", err)
		dup("SaveMany", m.SaveMany(ctx, []rapyer.Entry[ixMember]{{ID: "cat", Value: ixMember{Email: "cat@x"}}, {ID: "dan", Value: ixMember{Email: "ann@x"}}}))
		_, err = m.Duplicate(ctx, "ann", "eve")
		dup("Duplicate", err)
		_, err = m.Lock(ctx, "bob", "edit", func(_ context.Context, v *ixMember) error { v.Email = "ann@x"; return nil })
		dup("Lock", err)
		// two new models of one batch with one value
		err = m.SaveMany(ctx, []rapyer.Entry[ixMember]{{ID: "cat", Value: ixMember{Email: "new@x"}}, {ID: "dan", Value: ixMember{Email: "new@x"}}})
		if !errors.Is(err, rapyer.ErrDuplicate) || !strings.Contains(err.Error(), "new@x") {
			t.Fatalf("one value twice in a batch: %v", err)
		}
		if ok, _ := m.Exists(ctx, "bob"); !ok {
			t.Fatal("bob is gone")
		}
		if v, _ := m.Get(ctx, "bob"); v.Email != "bob@x" || v.Score != 0 {
			t.Fatalf("bob changed: %+v", v)
		}
		// a model keeps its own value; a value let go is free
		if err := m.Save(ctx, "ann", ixMember{Email: "ann@x", Score: 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Exec(ctx, "ann", tx.Of(ops.Set(mbEmail, "ann@y"))); err != nil {
			t.Fatal(err)
		}
		if err := m.Save(ctx, "cat", ixMember{Email: "ann@x"}); err != nil {
			t.Fatalf("a freed value: %v", err)
		}
		if _, err := m.Delete(ctx, "cat"); err != nil {
			t.Fatal(err)
		}
		if err := m.Save(ctx, "dan", ixMember{Email: "ann@x"}); err != nil {
			t.Fatalf("the value of a deleted model: %v", err)
		}
		o.Check(t, "end")
	})
}

// TestUniqueIndexUnderConcurrency: N goroutines register one e-mail under
// N ids at once: exactly one wins, the others get ErrDuplicate.
func TestUniqueIndexUnderConcurrency(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, o := ixMembers(t, b, rapyer.Options{})
		for round := range 3 {
			const n = 8
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					errs[i] = m.Create(ctx, fmt.Sprintf("u%d_%d", round, i), ixMember{Email: fmt.Sprintf("same%d@x", round)})
				})
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, rapyer.ErrDuplicate):
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d registrations won, want 1 (%v)", round, won, errs)
			}
		}
		o.Check(t, "after the races")
	})
}

// TestIndexedValueLimits: a value longer than 1024 bytes fails with
// ErrTooLarge, a NaN with ErrInvalid, on scalars and list elements, and
// nothing is written.
func TestIndexedValueLimits(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, o := ixMembers(t, b, rapyer.Options{})
		long := strings.Repeat("x", 1025)
		if err := m.Save(ctx, "a", ixMember{Email: strings.Repeat("y", 1024), Tags: []string{strings.Repeat("z", 1024)}}); err != nil {
			t.Fatalf("1024 bytes: %v", err)
		}
		for what, err := range map[string]error{
			"Save long":   m.Save(ctx, "b", ixMember{Email: long}),
			"Save tag":    m.Save(ctx, "b", ixMember{Email: "b", Tags: []string{"ok", long}}),
			"Exec Append": execErr(m.Exec(ctx, "a", tx.Of(ops.Set(mbScore, 1), ops.Append(mbTags, long)))),
			"Exec Set":    execErr(m.Exec(ctx, "a", tx.Of(ops.Set(mbScore, 1), ops.Set(mbEmail, long)))),
		} {
			if !errors.Is(err, rapyer.ErrTooLarge) || !strings.Contains(err.Error(), "1025 bytes") {
				t.Errorf("%s: %v, want ErrTooLarge", what, err)
			}
		}
		for what, err := range map[string]error{
			"Save NaN": m.Save(ctx, "b", ixMember{Email: "b", Score: math.NaN()}),
			"Set NaN":  execErr(m.Exec(ctx, "a", tx.Of(ops.Set(mbScore, math.NaN())))),
		} {
			if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), "NaN") {
				t.Errorf("%s: %v, want ErrInvalid naming NaN", what, err)
			}
		}
		if ok, _ := m.Exists(ctx, "b"); ok {
			t.Fatal("b was written")
		}
		if v, _ := m.Get(ctx, "a"); v.Score != 0 || len(v.Tags) != 1 {
			t.Fatalf("a changed: %+v", v)
		}
		o.Check(t, "after the refusals")
	})
}

func execErr(_ *tx.Result, err error) error { return err }

// TestExpiredModelsLeaveTheIndexes: a model that Redis expires leaves
// entries behind (no script ran) until a write of its group purges them;
// its unique value is free at once.
func TestExpiredModelsLeaveTheIndexes(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, o := ixMembers(t, b, rapyer.Options{TTL: 100 * time.Millisecond})
		// one batch: no write of the group purges one of them before the
		// count below, however slow the machine
		var es []rapyer.Entry[ixMember]
		for _, id := range []string{"a", "b", "c"} {
			es = append(es, rapyer.Entry[ixMember]{ID: id, Value: ixMember{Email: id + "@x", Tags: []string{"t"}}})
		}
		if err := m.SaveMany(ctx, es); err != nil {
			t.Fatal(err)
		}
		o.Check(t, "saved")
		base := o.Base(0)
		if n := b.Client.ZCard(ctx, base+":@exp").Val(); n != 3 {
			t.Fatalf("@exp holds %d, want 3", n)
		}
		if b.Kind == testenv.Mini {
			b.Mini.FastForward(200 * time.Millisecond)
			b.Mini.SetTime(time.Now().Add(200 * time.Millisecond))
		} else {
			time.Sleep(250 * time.Millisecond)
		}
		if n := b.Client.HLen(ctx, base+":@back").Val(); n != 3 {
			t.Fatalf("before a purge @back holds %d, want 3 (expired, not purged)", n)
		}
		// the value of an expired model is free before any purge. d is
		// saved without a TTL: with the type's 100ms it could expire
		// before the checks below on a loaded machine, and the query of
		// o.Check purge it (a query purges what the clock expired), which
		// was seen to leave @u:email empty.
		keep, _ := ixMembers(t, b, rapyer.Options{})
		if err := keep.Save(ctx, "d", ixMember{Email: "a@x"}); err != nil {
			t.Fatalf("the value of an expired model: %v", err)
		}
		o.Check(t, "after a write of the group")
		for _, k := range []string{":@back", ":@ids", ":@exp", ":@i:tags"} {
			if v := b.Client.ZCard(ctx, base+k).Val() + b.Client.HLen(ctx, base+k).Val(); v > 1 {
				t.Errorf("%s holds %d after the purge, want at most 1 (d)", k, v)
			}
		}
		if got := b.Client.HGetAll(ctx, base+":@u:email").Val(); len(got) != 1 {
			t.Errorf("@u:email holds %q after the purge", got)
		}
	})
}
