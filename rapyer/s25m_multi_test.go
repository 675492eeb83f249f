package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

var (
	s25mList  = lens.Of(func(d *s23bDoc) *[]string { return &d.List })
	s25mAttrs = lens.Of(func(d *s23bDoc) *map[string]string { return &d.Attrs })
)

// s25mCalls are writes of every path that may send MULTI: the interpreter
// (a batch no compiled shape runs), an indexed Save, Update's WATCH and
// MULTI, a model lock that loads collections in MULTI, Delete, Duplicate.
var s25mCalls = map[string]func(context.Context, *rapyer.Model[s23bDoc]) error{
	"Save": func(ctx context.Context, m *rapyer.Model[s23bDoc]) error {
		return m.Save(ctx, "a", s23bDoc{Age: 7, List: []string{"x"}})
	},
	"Exec": func(ctx context.Context, m *rapyer.Model[s23bDoc]) error {
		_, err := m.Exec(ctx, "a", tx.Of(ops.Append(s25mList, "y"), ops.Incr(s23bAge, 1), ops.SetItem(s25mAttrs, "n", "m")))
		return err
	},
	"Update": func(ctx context.Context, m *rapyer.Model[s23bDoc]) error {
		_, err := m.Update(ctx, "a", func(d s23bDoc) (tx.Batch, error) {
			return tx.Of(ops.Set(s23bAge, d.Age+10), ops.Append(s25mList, "z")), nil
		})
		return err
	},
	"Lock": func(ctx context.Context, m *rapyer.Model[s23bDoc]) error {
		_, err := m.Lock(ctx, "a", "edit", func(ctx context.Context, d *s23bDoc) error {
			d.Age += 100
			d.List = append(d.List, "w")
			return nil
		})
		return err
	},
	"Delete": func(ctx context.Context, m *rapyer.Model[s23bDoc]) error {
		_, err := m.Delete(ctx, "a")
		return err
	},
	"Duplicate": func(ctx context.Context, m *rapyer.Model[s23bDoc]) error {
		_, err := m.Duplicate(ctx, "a", "b")
		return err
	},
}

// A user denied MULTI (or a server where it is renamed away): the commands
// go-redis queues after the refused MULTI run on their own as they arrive,
// and their replies go unread. Every write either succeeds (a compiled
// script needs no MULTI) or fails with ErrNoPermission; a failed write that
// changed anything also says ErrUnknownOutcome (it may have been applied),
// and no lock is left held. Before, an indexed Save, an Exec on the
// interpreter and an Update wrote and reported ErrNoPermission alone, as if
// nothing had run, and a model lock could stay held.
func TestS25mDeniedMultiIsTruthful(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for _, indexed := range []bool{false, true} {
			space := fmt.Sprintf("%ss25m%v", b.Prefix, indexed)
			app := b.NewUser(t, append(aclRules(t, leastPrivilege, space+"*"), "-multi")...)
			for name, call := range s25mCalls {
				prefix := space + name
				model := func(c redis.UniversalClient) *rapyer.Model[s23bDoc] {
					if indexed {
						return s25iIndexed(c, prefix)
					}
					return rapyer.MustNew[s23bDoc](c, rapyer.Options{Prefix: prefix})
				}
				if err := model(b.Client).Save(ctx, "a", s23bOne); err != nil {
					t.Fatal(err)
				}
				before := s23bDump(ctx, t, b.Client, prefix)
				err := call(ctx, model(app))
				// a failed acquire that may have run leaves its give-up
				// marker (it expires with the lock's TTL and a minute)
				after := s25mGiveUp.ReplaceAllString(s23bDump(ctx, t, b.Client, prefix), "")
				what := fmt.Sprintf("%s (indexed %v) denied MULTI", name, indexed)
				switch {
				case err == nil:
				case !errors.Is(err, rapyer.ErrNoPermission):
					t.Errorf("%s: %v, want ErrNoPermission", what, err)
				case after != before && !errors.Is(err, rapyer.ErrUnknownOutcome):
					t.Errorf("%s: failed (%v) yet wrote, without saying ErrUnknownOutcome:\n%s\nwas\n%s", what, err, after, before)
				}
				if name == "Lock" {
					s25mNoLockLeft(ctx, t, b, model(b.Client), what)
				}
			}
		}
	})
}

// s25mGiveUp matches the line of a lock's give-up marker in a dump.
var s25mGiveUp = regexp.MustCompile(`(?m)^.*:lock:[^ ]*:fence:[0-9a-f]{32}" 1 ttl=true\n`)

// s25mNoLockLeft: model a's lock "edit" can be taken at once by another
// caller.
func s25mNoLockLeft(ctx context.Context, t *testing.T, b *testenv.Backend, m *rapyer.Model[s23bDoc], what string) {
	t.Helper()
	_, err := m.Lock(ctx, "a", "edit", func(context.Context, *s23bDoc) error { return nil }, rapyer.WithWait(lock.NoWait))
	if err != nil {
		t.Errorf("%s: the lock is left held: %v", what, err)
	}
}
