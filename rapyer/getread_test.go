package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Reading is a model of one hash: scalars, a nested struct with a pointer
// inside, a pointer to a struct and a pointer to a scalar.
type Reading struct {
	Name   string
	Age    int
	Score  float64
	Active bool
	Home   Address
	Work   *Address
	Nick   *string
}

// eachProtocol runs f on every tier with a client of RESP2 and one of
// RESP3 (go-redis's Protocol 2 and 3: HGETALL answers an array in one, a
// map in the other).
func eachProtocol(t *testing.T, f func(t *testing.T, b *testenv.Backend, rdb redis.UniversalClient)) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for _, p := range []int{2, 3} {
			t.Run(fmt.Sprintf("resp%d", p), func(t *testing.T) {
				f(t, b, b.NewClient(t, func(o *redis.UniversalOptions) { o.Protocol = p }))
			})
		}
	})
}

// TestGetReadsHashesInPlace: Get, GetWithVersion, GetMany, Update and Lock
// of models read from their raw HGETALL replies give the saved values and
// versions; fields written in any order, with stray fields beside them,
// read the same; a hash without its version is a missing model.
func TestGetReadsHashesInPlace(t *testing.T) {
	eachProtocol(t, func(t *testing.T, b *testenv.Backend, rdb redis.UniversalClient) {
		ctx := context.Background()
		m := rapyer.MustNew[Reading](rdb, rapyer.Options{Prefix: b.Prefix + "reading"})
		nick := "ada"
		want := Reading{Name: "Ada", Age: 36, Score: 97.5, Active: true,
			Home: Address{Street: "1 Rd", City: "London", Geo: &Geo{Lat: 51.5, Lng: -0.1}}, Work: &Address{City: "Cambridge"}, Nick: &nick}
		for _, id := range []string{"a", "b"} {
			if err := m.Save(ctx, id, want); err != nil {
				t.Fatal(err)
			}
		}
		got, ver, err := m.GetWithVersion(ctx, "a")
		if err != nil || !sameReading(got, want) {
			t.Fatalf("GetWithVersion: %+v %d %v", got, ver, err)
		}
		if err := m.Save(ctx, "a", want); err != nil {
			t.Fatal(err)
		}
		if _, again, err := m.GetWithVersion(ctx, "a"); err != nil || again == ver {
			t.Fatalf("GetWithVersion after a Save: %d then %d, %v", ver, again, err)
		}
		found, missing, err := m.GetMany(ctx, []string{"a", "none", "b"})
		if err != nil || len(found) != 2 || !sameReading(found[0].Value, want) || found[1].ID != "b" || !slices.Equal(missing, []string{"none"}) {
			t.Fatalf("GetMany: %+v %v %v", found, missing, err)
		}

		// A hash written by hand: the fields in reverse order, the version
		// last, stray fields.
		root, _ := m.Key("hand")
		b.Client.HSet(ctx, root, "zz", "stray", "nick", "n", "work", "1", "home.geo.lng", "2", "home.geo", "1",
			"home.city", "Paris", "active", "1", "age", "7", "__x", "stray", "name", "Hand", "__v", "42")
		n := "n"
		hand := Reading{Name: "Hand", Age: 7, Active: true, Home: Address{City: "Paris", Geo: &Geo{Lng: 2}}, Work: &Address{}, Nick: &n}
		if got, ver, err := m.GetWithVersion(ctx, "hand"); err != nil || !sameReading(got, hand) || ver != 42 {
			t.Errorf("a hash written by hand: %+v %d %v", got, ver, err)
		}
		if _, err := m.Update(ctx, "hand", func(v Reading) (tx.Batch, error) {
			if !sameReading(v, hand) {
				return tx.Batch{}, fmt.Errorf("Update read %+v", v)
			}
			return tx.Of(ops.Set(ReadingAge, v.Age+1)), nil
		}); err != nil {
			t.Errorf("Update: %v", err)
		}
		if _, err := m.Lock(ctx, "hand", "edit", func(_ context.Context, v *Reading) error {
			if v.Age != 8 || v.Name != "Hand" {
				return fmt.Errorf("Lock loaded %+v", *v)
			}
			v.Age = 9
			return nil
		}); err != nil {
			t.Errorf("Lock: %v", err)
		}
		if got, err := m.Get(ctx, "hand"); err != nil || got.Age != 9 {
			t.Errorf("after Update and Lock: %+v %v", got, err)
		}

		// No version: no model.
		noVer, _ := m.Key("nover")
		b.Client.HSet(ctx, noVer, "name", "x", "age", "1")
		if _, err := m.Get(ctx, "nover"); !errors.Is(err, rapyer.ErrNotFound) {
			t.Errorf("a hash without a version: %v", err)
		}
		if _, err := m.Get(ctx, "none"); !errors.Is(err, rapyer.ErrNotFound) {
			t.Errorf("a missing model: %v", err)
		}
		if found, missing, err := m.GetMany(ctx, []string{"nover", "none"}); err != nil || len(found) != 0 || len(missing) != 2 {
			t.Errorf("GetMany of missing models: %+v %v %v", found, missing, err)
		}
	})
}

var ReadingAge = lens.Of(func(r *Reading) *int { return &r.Age })

func sameReading(a, b Reading) bool { return cmp.Equal(a, b) }

// TestGetOfBadDataIsTyped: a value that does not decode gives ErrCorrupt
// naming the field, and a key of another type ErrWrongType, from every
// read of a whole model (Get, GetMany, Update, Lock), for a model of one
// hash and one with collections.
func TestGetOfBadDataIsTyped(t *testing.T) {
	eachProtocol(t, func(t *testing.T, b *testenv.Backend, rdb redis.UniversalClient) {
		ctx := context.Background()
		one := rapyer.MustNew[Reading](rdb, rapyer.Options{Prefix: b.Prefix + "reading"})
		cols := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := one.Save(ctx, "ok", Reading{Name: "x", Home: Address{Geo: &Geo{}}}); err != nil {
			t.Fatal(err)
		}
		if err := cols.Save(ctx, "ok", Account{Owner: "x", History: []string{"h"}}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name, field, value, goName string
			key                        func(id string) (string, error)
			get                        func(id string) error
		}{
			{"int", "age", "abc", "Age", one.Key, readsOf(ctx, one)},
			{"float", "score", "1.2.3", "Score", one.Key, readsOf(ctx, one)},
			{"bool", "active", "yes", "Active", one.Key, readsOf(ctx, one)},
			{"nested behind a pointer", "home.geo.lat", "north", "Home.Geo.Lat", one.Key, readsOf(ctx, one)},
			{"with collections", "balance", "9x", "Balance", cols.Key, readsOf(ctx, cols)},
		} {
			root, _ := c.key("ok")
			old := b.Client.HGet(ctx, root, c.field).Val()
			b.Client.HSet(ctx, root, c.field, c.value)
			if err := c.get("ok"); !errors.Is(err, rapyer.ErrCorrupt) || !contains(err.Error(), c.goName) || !contains(err.Error(), root) {
				t.Errorf("%s: %v", c.name, err)
			}
			b.Client.HSet(ctx, root, c.field, old)
		}
		for _, get := range []func(id string) error{readsOf(ctx, one), readsOf(ctx, cols)} {
			if err := get("ok"); err != nil {
				t.Fatalf("the repaired models: %v", err)
			}
		}
		for _, key := range []func(string) (string, error){one.Key, cols.Key} {
			root, _ := key("str")
			b.Client.Set(ctx, root, "not a hash", 0)
		}
		for _, get := range []func(id string) error{readsOf(ctx, one), readsOf(ctx, cols)} {
			if err := get("str"); !errors.Is(err, rapyer.ErrWrongType) {
				t.Errorf("a string at the root: %v", err)
			}
		}
	})
}

// readsOf is a function that reads model id of m by Get, GetMany, Update
// and Lock, and gives the first error, naming the read that failed, or an
// error when the reads do not all fail alike.
func readsOf[T any](ctx context.Context, m *rapyer.Model[T]) func(id string) error {
	return func(id string) error {
		_, err := m.Get(ctx, id)
		_, _, many := m.GetMany(ctx, []string{id})
		_, upd := m.Update(ctx, id, func(T) (tx.Batch, error) { return tx.Batch{}, nil })
		_, lck := m.Lock(ctx, id, "read", func(context.Context, *T) error { return nil })
		for i, e := range []error{many, upd, lck} {
			if (e == nil) != (err == nil) || (err != nil && !errors.Is(e, rapyer.ErrCorrupt) && !errors.Is(e, rapyer.ErrWrongType)) ||
				(err != nil && errors.Is(err, rapyer.ErrCorrupt) != errors.Is(e, rapyer.ErrCorrupt)) {
				return fmt.Errorf("Get: %v; read %d (GetMany, Update, Lock): %v", err, i, e)
			}
		}
		return err
	}
}

// TestLockLoadRefusedByTheServer: a Lock whose load (queued in a plain
// pipeline after the acquire) is refused with an error reply other than
// WRONGTYPE reads the model again on its own through go-redis, which
// reports the refusal as its own error; the lock is released. Real server
// and cluster (miniredis has no ACL rules).
func TestLockLoadRefusedByTheServer(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		p := b.Prefix + "reading"
		admin := rapyer.MustNew[Reading](b.Client, rapyer.Options{Prefix: p})
		if err := admin.Save(ctx, "x", Reading{Name: "x"}); err != nil {
			t.Fatal(err)
		}
		app := b.NewUser(t, "~"+p+":*", "&"+p+":*", "+@all", "-hgetall")
		m := rapyer.MustNew[Reading](app, rapyer.Options{Prefix: p})
		called := false
		_, err := m.Lock(ctx, "x", "edit", func(context.Context, *Reading) error { called = true; return nil })
		if err == nil || called || !contains(err.Error(), "NOPERM") {
			t.Fatalf("Lock with HGETALL refused: called %v, %v", called, err)
		}
		if _, err := admin.Lock(ctx, "x", "edit", func(context.Context, *Reading) error { return nil }); err != nil {
			t.Errorf("the lock was not released: %v", err)
		}
	})
}
