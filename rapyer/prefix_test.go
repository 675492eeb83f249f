package rapyer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// Box is a generic model: each instance is its own model type.
type Box[T any] struct {
	V    T
	List []T
}

// TestGenericModelsHaveTheirOwnPrefix: Box[int] and Box[string] with the
// default prefix do not read each other's data (they shared "box" before).
func TestGenericModelsHaveTheirOwnPrefix(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		ints := rapyer.MustNew[Box[int]](b.Client, rapyer.Options{})
		strs := rapyer.MustNew[Box[string]](b.Client, rapyer.Options{})
		if ints.Prefix() != "box_int" || strs.Prefix() != "box_string" {
			t.Fatalf("prefixes %q and %q, want box_int and box_string", ints.Prefix(), strs.Prefix())
		}
		// The default prefixes are not the test's: the id carries it, and
		// the keys go when the test ends.
		id := b.Prefix + "x"
		t.Cleanup(func() {
			for _, k := range append(must(ints.Keys(id)), must(strs.Keys(id))...) {
				b.Client.Del(context.Background(), k)
			}
		})
		if err := ints.Save(ctx, id, Box[int]{V: 7, List: []int{1, 2}}); err != nil {
			t.Fatal(err)
		}
		if v, err := strs.Get(ctx, id); !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("Box[string] read Box[int]'s model: %+v, %v", v, err)
		}
		if err := strs.Save(ctx, id, Box[string]{V: "s"}); err != nil {
			t.Fatal(err)
		}
		if v, err := ints.Get(ctx, id); err != nil || v.V != 7 || len(v.List) != 2 {
			t.Fatalf("Box[int] after a save of Box[string]: %+v, %v", v, err)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestTwoTypesOnOnePrefixAreRefused: New refuses a second model type on a
// prefix that a model of another type uses on the same client, explicit or
// default; the same type again, and another client, are fine.
func TestTwoTypesOnOnePrefixAreRefused(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		p := b.Prefix + "shared"
		if _, err := rapyer.New[Account](b.Client, rapyer.Options{Prefix: p}); err != nil {
			t.Fatal(err)
		}
		if _, err := rapyer.New[Account](b.Client, rapyer.Options{Prefix: p}); err != nil {
			t.Fatalf("the same type twice: %v", err)
		}
		_, err := rapyer.New[Cart](b.Client, rapyer.Options{Prefix: p})
		if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), p) ||
			!strings.Contains(err.Error(), "Account") || !strings.Contains(err.Error(), "Cart") {
			t.Fatalf("another type on the prefix: %v, want ErrInvalid naming the prefix and both types", err)
		}
		other := b.NewClient(t, nil)
		if _, err := rapyer.New[Cart](other, rapyer.Options{Prefix: p}); err != nil {
			t.Fatalf("another client: %v", err)
		}

		// Default prefixes: two types named alike in two scopes.
		newPackageAccount := rapyer.New[Account]
		type Account struct{ Other string }
		c := b.NewClient(t, nil)
		if _, err := rapyer.New[Account](c, rapyer.Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := newPackageAccount(c, rapyer.Options{}); !errors.Is(err, rapyer.ErrInvalid) {
			t.Fatalf("another type on a default prefix: %v, want ErrInvalid", err)
		}
	})
}
