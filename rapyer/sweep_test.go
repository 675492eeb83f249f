package rapyer_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

type profileV1 struct {
	Name string
	Tags []string
	Seen map[string]struct{}
}

// profileV2 is profileV1 with Tags removed.
type profileV2 struct {
	Name string
	Seen map[string]struct{}
}

// TestSweepRemovesKeysOfRemovedFields: after a field is removed from the
// struct, Sweep deletes the keys it left (of live and deleted models
// alike), and nothing else: not today's collections, not lock keys.
func TestSweepRemovesKeysOfRemovedFields(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for _, tag := range []func(string) string{nil, sameTag} {
			prefix := b.Prefix + "profile"
			if tag != nil {
				prefix += "t"
			}
			v1 := rapyer.MustNew[profileV1](b.Client, rapyer.Options{Prefix: prefix, HashTag: tag})
			for _, id := range []string{"p1", "p2", "p3"} {
				if err := v1.Save(ctx, id, profileV1{Name: id, Tags: []string{"a"}, Seen: map[string]struct{}{"x": {}}}); err != nil {
					t.Fatal(err)
				}
			}
			// The new struct, on another client (one client keeps one type per prefix).
			v2 := rapyer.MustNew[profileV2](b.NewClient(t, nil), rapyer.Options{Prefix: prefix, HashTag: tag})
			if _, err := v2.Delete(ctx, "p3"); err != nil {
				t.Fatal(err)
			}
			// Under a held lock: Sweep leaves the lock's keys alone.
			var removed []string
			_, err := v2.Lock(ctx, "p1", "edit", func(context.Context, *profileV2) error {
				var err error
				removed, err = v2.Sweep(ctx)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, id := range []string{"p1", "p2", "p3"} {
				ks, _ := v1.Keys(id)
				want = append(want, ks[1]) // the tags list
			}
			slices.Sort(removed)
			if !slices.Equal(removed, want) {
				t.Fatalf("Sweep removed %v, want %v", removed, want)
			}
			for _, id := range []string{"p1", "p2"} {
				p, err := v2.Get(ctx, id)
				if err != nil || len(p.Seen) != 1 {
					t.Fatalf("after Sweep %s is %+v, %v", id, p, err)
				}
			}
			if again, err := v2.Sweep(ctx); err != nil || len(again) != 0 {
				t.Fatalf("a second Sweep removed %v, %v", again, err)
			}
		}
	})
}

// TestASweepWhoseDelReplyIsLostIsUnknownOutcome: Sweep's DEL of a stale key
// whose reply is lost (the connection cut after the server answered) fails
// with ErrUnknownOutcome, not an untyped network error (the key may or may
// not be gone), and a second Sweep finishes the work; on every tier.
func TestASweepWhoseDelReplyIsLostIsUnknownOutcome(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "lostdel"
		v1 := rapyer.MustNew[profileV1](b.Client, rapyer.Options{Prefix: prefix})
		if err := v1.Save(ctx, "p1", profileV1{Name: "p1", Tags: []string{"a"}}); err != nil {
			t.Fatal(err)
		}
		rdb, proxies := proxied(t, b)
		v2 := rapyer.MustNew[profileV2](rdb, rapyer.Options{Prefix: prefix})
		for _, p := range proxies {
			p.DropReplyTo("$3\r\nDEL\r\n")
		}
		_, err := v2.Sweep(ctx)
		if !errors.Is(err, rapyer.ErrUnknownOutcome) {
			t.Fatalf("Sweep with its DEL's reply lost: %v, want ErrUnknownOutcome", err)
		}
		again := rapyer.MustNew[profileV2](b.NewClient(t, nil), rapyer.Options{Prefix: prefix})
		if _, err := again.Sweep(ctx); err != nil {
			t.Fatalf("the second Sweep: %v", err)
		}
		ks, _ := v1.Keys("p1")
		if n := b.Client.Exists(ctx, ks[1]).Val(); n != 0 {
			t.Fatalf("the stale tags list %s is still there after the second Sweep", ks[1])
		}
	})
}
