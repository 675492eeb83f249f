package rapyer_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// maintModels saves two models of a type indexed on its score under
// prefix, and returns their model. A declaration that adds an index on the
// email has work for Reindex.
func maintModels(t *testing.T, b *testenv.Backend, prefix string) *rapyer.Model[ixMember] {
	t.Helper()
	ctx := context.Background()
	one := rapyer.MustNew[ixMember](b.Client, rapyer.Options{Prefix: prefix, Indexes: []index.Spec{index.On(mbScore)}})
	for _, id := range []string{"ann", "bob"} {
		if err := one.Save(ctx, id, ixMember{Email: id + "@x", Score: 1}); err != nil {
			t.Fatal(err)
		}
	}
	return one
}

// TestDropIndexTypesAnEndedContext: DropIndex with a context ended before
// the call fails with ErrNotSent (and the context's error), as every other
// entry point does; it returned context.Canceled alone. On every tier.
func TestDropIndexTypesAnEndedContext(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		one := maintModels(t, b, b.Prefix+"dropctx")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := one.DropIndex(ctx, "email"); !errors.Is(err, rapyer.ErrNotSent) || !errors.Is(err, context.Canceled) {
			t.Fatalf("DropIndex with an ended context: %v; want ErrNotSent and context.Canceled", err)
		}
	})
}

// TestReindexAndDropIndexRefusalsAreTyped: a user whose ACL lacks HSET
// (Reindex marks the indexes it builds with it) or DEL (DropIndex) gets
// ErrNoPermission from them, not the server's NOPERM reply untyped; the
// refused Reindex built nothing (a query on the new index still fails with
// ErrNotIndexed), and an admin's Reindex then builds it. Redis and the
// cluster (miniredis has no ACL).
func TestReindexAndDropIndexRefusalsAreTyped(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "maintacl"
		maintModels(t, b, prefix)
		without := func(cmd string) []string {
			return slices.DeleteFunc(aclRules(t, leastPrivilege, prefix), func(s string) bool { return s == cmd })
		}
		specs := []index.Spec{index.On(mbScore), index.On(mbEmail)}
		two := rapyer.MustNew[ixMember](b.NewUser(t, without("+hset")...), rapyer.Options{Prefix: prefix, Indexes: specs})
		if err := two.Reindex(ctx, nil); !errors.Is(err, rapyer.ErrNoPermission) {
			t.Fatalf("Reindex as a user without HSET: %v; want ErrNoPermission", err)
		}
		admin := rapyer.MustNew[ixMember](b.Client, rapyer.Options{Prefix: prefix, Indexes: specs})
		byEmail := query.Where(is.Equal(mbEmail, "bob@x"))
		if _, err := admin.Count(ctx, byEmail); !errors.Is(err, rapyer.ErrNotIndexed) {
			t.Fatalf("a query on the index a refused Reindex left: %v; want ErrNotIndexed", err)
		}
		if err := admin.Reindex(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if n, err := admin.Count(ctx, byEmail); err != nil || n != 1 {
			t.Fatalf("a query after the admin's Reindex: %d, %v; want 1", n, err)
		}
		one := rapyer.MustNew[ixMember](b.NewUser(t, without("+del")...), rapyer.Options{Prefix: prefix, Indexes: specs[:1]})
		if err := one.DropIndex(ctx, "email"); !errors.Is(err, rapyer.ErrNoPermission) {
			t.Fatalf("DropIndex as a user without DEL: %v; want ErrNoPermission", err)
		}
	})
}

// TestAReindexWhoseReplyIsLostIsUnknownOutcome: Reindex whose HSET (its
// marks) or whose DropIndex's DEL loses its reply (the connection cut after
// the server answered) fails with ErrUnknownOutcome, not an untyped network
// error, and calling again finishes the work. On every tier.
func TestAReindexWhoseReplyIsLostIsUnknownOutcome(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "maintlost"
		maintModels(t, b, prefix)
		specs := []index.Spec{index.On(mbScore), index.On(mbEmail)}
		rdb, proxies := proxied(t, b)
		for _, p := range proxies {
			p.DropReplyTo("$4\r\nHSET\r\n")
		}
		two := rapyer.MustNew[ixMember](rdb, rapyer.Options{Prefix: prefix, Indexes: specs})
		if err := two.Reindex(ctx, nil); !errors.Is(err, rapyer.ErrUnknownOutcome) {
			t.Fatalf("Reindex with its HSET's reply lost: %v; want ErrUnknownOutcome", err)
		}
		admin := rapyer.MustNew[ixMember](b.NewClient(t, nil), rapyer.Options{Prefix: prefix, Indexes: specs})
		if err := admin.Reindex(ctx, nil); err != nil {
			t.Fatalf("the second Reindex: %v", err)
		}
		if n, err := admin.Count(ctx, query.Where(is.Equal(mbEmail, "bob@x"))); err != nil || n != 1 {
			t.Fatalf("a query after the second Reindex: %d, %v; want 1", n, err)
		}
		for _, p := range proxies {
			p.DropReplyTo("$3\r\nDEL\r\n")
		}
		one := rapyer.MustNew[ixMember](rdb, rapyer.Options{Prefix: prefix, Indexes: specs[:1]})
		if err := one.DropIndex(ctx, "email"); !errors.Is(err, rapyer.ErrUnknownOutcome) {
			t.Fatalf("DropIndex with its DEL's reply lost: %v; want ErrUnknownOutcome", err)
		}
	})
}
