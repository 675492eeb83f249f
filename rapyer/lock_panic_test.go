package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// Touchy is a text type whose methods panic on one value each: user code
// that panics while a model is encoded (MarshalText of "boom") or decoded
// (UnmarshalText of "bad").
type Touchy string

// MarshalText panics on "boom".
func (t Touchy) MarshalText() ([]byte, error) {
	if t == "boom" {
		panic("MarshalText of boom")
	}
	return []byte(t), nil
}

// UnmarshalText panics on "bad".
func (t *Touchy) UnmarshalText(b []byte) error {
	if string(b) == "bad" {
		panic("UnmarshalText of bad")
	}
	*t = Touchy(b)
	return nil
}

// Sticky is a model with a Touchy field and nothing else to collect.
type Sticky struct {
	Name string
	Tag  Touchy
}

// panics runs f and returns what it panicked with, or nil.
func panics(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// TestLockLeftByAPanicOfUserCode: a panic of the user's own code while
// Model.Lock loads the model (UnmarshalText of a stored value) or encodes
// its save (MarshalText of the value fn left), for one model or several
// (LockAll), goes on to the caller, as
// a panic in fn does, and, as after a panic in fn, the lock is not left
// held, nor its watchdog running (WithAutoExtend); on every tier.
func TestLockLeftByAPanicOfUserCode(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Sticky](b.Client, rapyer.Options{Prefix: b.Prefix + "sticky", Lock: lock.Options{TTL: 2 * time.Second}})
		// corrupt: the codec gives a panicking UnmarshalText of a stored
		// value as ErrCorrupt (DESIGN 12: no panic from data in Redis)
		cases := []struct {
			name    string
			stored  Touchy
			fn      func(context.Context, *Sticky) error
			corrupt bool
		}{
			{"fn panics", "ok", func(context.Context, *Sticky) error { panic("fn") }, false},
			{"save encodes a panic", "ok", func(_ context.Context, s *Sticky) error { s.Tag = "boom"; return nil }, false},
			{"load decodes a panic", "bad", func(context.Context, *Sticky) error { return nil }, true},
		}
		for i, c := range cases {
			for _, extend := range []bool{false, true} {
				id := fmt.Sprintf("s%d%v", i, extend)
				root := m.Target(id).Root()
				if err := m.Save(ctx, id, Sticky{Name: "n", Tag: "ok"}); err != nil {
					t.Fatal(err)
				}
				b.Client.HSet(ctx, root, "tag", string(c.stored))
				var opt []rapyer.Option
				if extend {
					opt = append(opt, rapyer.WithAutoExtend())
				}
				var err error
				r := panics(func() { _, err = m.Lock(ctx, id, "edit", c.fn, opt...) })
				expect(t, fmt.Sprintf("%s (auto-extend %v)", c.name, extend), c.corrupt, r, err)
				if n := b.Client.Exists(ctx, root+":lock:edit").Val(); n != 0 {
					t.Errorf("%s (auto-extend %v): the lock is left held after the panic %v", c.name, extend, r)
				}
			}
		}
		// LockAll: the second model's load or the save panics; every
		// lock taken goes
		for i, c := range cases[1:] {
			ids := []string{fmt.Sprintf("all%da", i), fmt.Sprintf("all%db", i)}
			for _, id := range ids {
				if err := m.Save(ctx, id, Sticky{Name: "n", Tag: "ok"}); err != nil {
					t.Fatal(err)
				}
			}
			b.Client.HSet(ctx, m.Target(ids[1]).Root(), "tag", string(c.stored))
			var x, y Sticky
			var err error
			r := panics(func() {
				_, err = rapyer.LockAll(ctx, "edit", []rapyer.Held{m.Hold(ids[0], &x), m.Hold(ids[1], &y)},
					func(ctx context.Context) error { return c.fn(ctx, &y) }, rapyer.WithAutoExtend())
			})
			expect(t, "LockAll, "+c.name, c.corrupt, r, err)
			for _, id := range ids {
				if n := b.Client.Exists(ctx, m.Target(id).Root()+":lock:edit").Val(); n != 0 {
					t.Errorf("LockAll, %s: the lock of %s is left held after the panic %v", c.name, id, r)
				}
			}
		}
	})
}

// expect checks what a Lock call whose user code panics gave: ErrCorrupt
// and no panic where the panic was a decoding of stored data (corrupt),
// else the panic itself.
func expect(t *testing.T, what string, corrupt bool, r any, err error) {
	t.Helper()
	switch {
	case corrupt && (r != nil || !errors.Is(err, rapyer.ErrCorrupt)):
		t.Errorf("%s: panic %v, error %v; want ErrCorrupt and no panic", what, r, err)
	case !corrupt && r == nil:
		t.Errorf("%s: no panic reached the caller", what)
	}
}

// TestAPanickingDecodingReadsAsCorrupt: a stored value on which the
// type's own UnmarshalText panics is ErrCorrupt for Get, GetMany and a
// query's models, never a panic (DESIGN 12); on every tier.
func TestAPanickingDecodingReadsAsCorrupt(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Sticky](b.Client, rapyer.Options{Prefix: b.Prefix + "touchy"})
		if err := m.Save(ctx, "a", Sticky{Name: "n", Tag: "ok"}); err != nil {
			t.Fatal(err)
		}
		b.Client.HSet(ctx, m.Target("a").Root(), "tag", "bad")
		var err error
		if r := panics(func() { _, err = m.Get(ctx, "a") }); r != nil || !errors.Is(err, rapyer.ErrCorrupt) {
			t.Errorf("Get: panic %v, error %v; want ErrCorrupt", r, err)
		}
		if r := panics(func() { _, _, err = m.GetMany(ctx, []string{"a"}) }); r != nil || !errors.Is(err, rapyer.ErrCorrupt) {
			t.Errorf("GetMany: panic %v, error %v; want ErrCorrupt", r, err)
		}
	})
}
