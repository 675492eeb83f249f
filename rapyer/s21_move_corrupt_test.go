package rapyer_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestAMoveOntoCorruptBookkeepingWritesNothing: the move of a model stored
// before its type declared an index copies it under its slot group and
// adds it to the group's @ids, @exp and @back. When one of those holds the
// wrong type (corrupt bookkeeping), the copy must fail with a typed error
// before its first write: no new root, no collection key, the old model as
// it was. Before, the copy wrote the new root and its keys, then failed on
// the ZADD or HSETNX, and the half-made copy was left behind.
func TestAMoveOntoCorruptBookkeepingWritesNothing(t *testing.T) {
	for _, which := range []string{"@ids", "@exp", "@back"} {
		t.Run(which, func(t *testing.T) {
			testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
				ctx := context.Background()
				prefix := b.Prefix + "mvc"
				plain := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix})
				old := QItem{Name: "apple", Status: "new", Price: 3, Tags: map[string]struct{}{"red": {}}}
				if err := plain.Save(ctx, "a", old); err != nil {
					t.Fatal(err)
				}
				m := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix, Indexes: itemIndexes, Groups: 1})
				if err := m.Save(ctx, "x", QItem{Name: "x", Status: "new"}); err != nil {
					t.Fatal(err)
				}
				var key string
				for k := range keysOf(t, b) {
					if strings.HasSuffix(k, ":"+which) {
						key = k
					}
				}
				if key == "" {
					key = strings.TrimSuffix(firstKeyWithSuffix(t, b, ":@ids"), "@ids") + which
				}
				if err := b.Client.Del(ctx, key).Err(); err != nil {
					t.Fatal(err)
				}
				if err := b.Client.RPush(ctx, key, "corrupt").Err(); err != nil {
					t.Fatal(err)
				}
				before := bookkeepingFree(keysOf(t, b))
				_, err := m.Get(ctx, "a")
				if err == nil {
					t.Fatal("Get moved model a onto a corrupt " + which + " without an error")
				}
				if !errors.Is(err, rapyer.ErrWrongType) && !errors.Is(err, rapyer.ErrCorrupt) {
					t.Fatalf("Get with a corrupt %s: %v, want ErrWrongType or ErrCorrupt", which, err)
				}
				if after := bookkeepingFree(keysOf(t, b)); !slices.Equal(after, before) {
					t.Fatalf("a failed move wrote keys:\nbefore %v\nafter  %v", before, after)
				}
				if got, err := plain.Get(ctx, "a"); err != nil || !itemEq(got, old) {
					t.Fatalf("the old model after the failed move: %+v, %v", got, err)
				}
			})
		})
	}
}

// firstKeyWithSuffix is the first key of b's prefix ending in suffix.
func firstKeyWithSuffix(t *testing.T, b *testenv.Backend, suffix string) string {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(keysOf(t, b))) {
		if strings.HasSuffix(k, suffix) {
			return k
		}
	}
	t.Fatalf("no key ends in %s", suffix)
	return ""
}

// bookkeepingFree lists the names of keys, leaving out the move's claim
// (@moving: the first step's, which lives its claim's life by design).
func bookkeepingFree(keys map[string]time.Duration) []string {
	names := slices.Sorted(maps.Keys(keys))
	return slices.DeleteFunc(names, func(k string) bool { return strings.HasSuffix(k, "@moving") })
}

// TestAMoveByAUserWithoutACommandWritesNothing: a user the ACL lets do all
// but one command the copy sends last (HSETNX of @back, ZADD of @ids) gets
// ErrNoPermission from the move with nothing of the copy written (Redis 7
// asks the ACL before the first write); before, the copy wrote the new root
// and failed on that command, leaving a half-made copy.
func TestAMoveByAUserWithoutACommandWritesNothing(t *testing.T) {
	for _, cmd := range []string{"hsetnx", "zadd"} {
		t.Run(cmd, func(t *testing.T) {
			testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
				ctx := context.Background()
				prefix := b.Prefix + "mvp"
				app := b.NewUser(t, append(aclRules(t, leastPrivilege, prefix), "-"+cmd)...)
				plain := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix})
				old := QItem{Name: "apple", Status: "new", Price: 3, Tags: map[string]struct{}{"red": {}}}
				if err := plain.Save(ctx, "a", old); err != nil {
					t.Fatal(err)
				}
				before := bookkeepingFree(keysOf(t, b))
				m := rapyer.MustNew[QItem](app, rapyer.Options{Prefix: prefix, Indexes: itemIndexes, Groups: 1})
				_, err := m.Get(ctx, "a")
				if !errors.Is(err, rapyer.ErrNoPermission) {
					t.Fatalf("Get moving a model as a user without %s: %v, want ErrNoPermission", cmd, err)
				}
				if after := bookkeepingFree(keysOf(t, b)); !slices.Equal(after, before) {
					t.Fatalf("a refused move wrote keys:\nbefore %v\nafter  %v", before, after)
				}
				if got, err := plain.Get(ctx, "a"); err != nil || !itemEq(got, old) {
					t.Fatalf("the old model after the refused move: %+v, %v", got, err)
				}
			})
		})
	}
}
