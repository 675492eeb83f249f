package tx_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Flat is a model that is one hash: no collections (the lean form's
// straight path for it, saveone in batch.lua), with a pointer field that a
// value may leave out.
type Flat struct {
	Name  string
	Age   int
	Score float64
	Note  *string
}

func flatValues() []Flat {
	note := "n"
	return []Flat{{}, {Name: "ada", Age: 36, Score: 1.5}, {Name: "bob", Note: &note}}
}

func flatBatch(t tx.Target, v Flat, ttl bool) tx.Batch {
	o := []ops.Op{ops.Replace(v)}
	if ttl {
		o = append(o, ops.Expire[Flat](time.Minute))
	}
	return tx.Of(o...).On(t)
}

// TestLeanSaveOfAOneHashModel: the lean form's straight path for a model
// without collections stores byte for byte what the interpreter's Replace
// does, on a missing model and on one with a stray field, a TTL and
// versions whose next one carries (41999 -> 42000) or reaches 2^53.
func TestLeanSaveOfAOneHashModel(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Flat](b.Client, rapyer.Options{Prefix: b.Prefix + "flat"})
		target := m.Target("a")
		prior := func(ver string) {
			b.Client.Del(ctx, tx.Keys(target)...)
			if ver != "" {
				b.Client.HSet(ctx, target.Root(), "__v", ver, "name", "old", "stray", "x")
				b.Client.PExpire(ctx, target.Root(), time.Hour)
			}
		}
		for _, ver := range []string{"", "41", "41999", "0", "9", "9007199254740991"} {
			for i, v := range flatValues() {
				for _, ttl := range []bool{false, true} {
					batch := flatBatch(target, v, ttl)
					if !tx.IsLean(b.Client, batch, tx.Options{}) {
						t.Fatal("a Save batch is not lean")
					}
					prior(ver)
					if _, err := tx.ExecOnInterpreter(ctx, b.Client, batch, tx.Options{}); err != nil {
						t.Fatal(err)
					}
					want := b.Client.HGet(ctx, target.Root(), "__v").Val()
					wantKeys := snapshot(t, b, target, true)
					prior(ver)
					if _, err := tx.Exec(ctx, b.Client, batch, tx.Options{}); err != nil {
						t.Fatal(err)
					}
					if got := b.Client.HGet(ctx, target.Root(), "__v").Val(); ver != "" && got != want {
						t.Fatalf("the version after %s: lean %s, interpreter %s", ver, got, want)
					}
					if got := snapshot(t, b, target, true); !slices.Equal(got, wantKeys) {
						t.Fatalf("value %d (version %q, ttl %v): lean stored\n%v\nthe interpreter\n%v", i, ver, ttl, got, wantKeys)
					}
				}
			}
		}
	})
}

// TestLeanSaveOfAOneHashModelRefuses: the straight path refuses what the
// general one refuses, before any write: a version that is not a count or
// is at 2^53, a root of another type, Create of a model that exists.
func TestLeanSaveOfAOneHashModelRefuses(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Flat](b.Client, rapyer.Options{Prefix: b.Prefix + "flat"})
		root := m.Target("a").Root()
		for ver, want := range map[string]error{"x": rapyer.ErrCorrupt, "-1": rapyer.ErrCorrupt, "007": rapyer.ErrCorrupt,
			"123456789012345678901": rapyer.ErrCorrupt, "9007199254740992": rapyer.ErrOverflow, "12345678901234567": rapyer.ErrOverflow} {
			b.Client.Del(ctx, root)
			b.Client.HSet(ctx, root, "__v", ver, "name", "old")
			if err := m.Save(ctx, "a", flatValues()[1]); !errors.Is(err, want) {
				t.Fatalf("Save over the version %q: %v, want %v", ver, err, want)
			}
			if got := b.Client.HGetAll(ctx, root).Val(); got["__v"] != ver || got["name"] != "old" || len(got) != 2 {
				t.Fatalf("a refused Save over the version %q wrote: %v", ver, got)
			}
		}
		b.Client.Del(ctx, root)
		b.Client.Set(ctx, root, "x", 0)
		if err := m.Save(ctx, "a", flatValues()[1]); !errors.Is(err, rapyer.ErrWrongType) {
			t.Fatalf("Save over a string root: %v, want ErrWrongType", err)
		}
		b.Client.Del(ctx, root)
		if err := m.Create(ctx, "a", flatValues()[1]); err != nil {
			t.Fatal(err)
		}
		if err := m.Create(ctx, "a", flatValues()[2]); !errors.Is(err, rapyer.ErrExists) {
			t.Fatalf("Create of an existing model: %v, want ErrExists", err)
		}
		if got, err := m.Get(ctx, "a"); err != nil || got.Name != "ada" {
			t.Fatalf("after a refused Create: %+v, %v", got, err)
		}
	})
}

// TestLeanSaveOfAOneHashModelLostReply: its record answers the resend of
// a Save whose reply was lost: the version moves by one.
func TestLeanSaveOfAOneHashModelLostReply(t *testing.T) {
	for _, tier := range []testenv.Kind{testenv.Mini, testenv.Server} {
		t.Run(string(tier), func(t *testing.T) {
			lostSaveReply(t, testenv.On(t, tier), "flat", flatValues()[1], flatValues()[2], flatBatch)
		})
	}
}

// TestLeanSaveOfAOneHashModelWithoutPermission: a user who may not send a
// command of the straight path gets ErrNoPermission and nothing is
// written.
func TestLeanSaveOfAOneHashModelWithoutPermission(t *testing.T) {
	b := testenv.On(t, testenv.Server)
	ctx := context.Background()
	prefix := b.Prefix + "flat"
	admin := rapyer.MustNew[Flat](b.Client, rapyer.Options{Prefix: prefix})
	if err := admin.Save(ctx, "a", flatValues()[1]); err != nil {
		t.Fatal(err)
	}
	all := []string{"+del", "+hset", "+pexpire"}
	// with EVAL and EVALSHA, the compiled save meets the refusal first
	// and leaves the save to the interpreter (shape/save.go)
	for i, missing := range append(all, all...) {
		rules := leanRules(prefix, all, missing)
		scripts := i >= len(all)
		if scripts {
			rules = append(rules, "+eval", "+evalsha")
		}
		user := b.NewUser(t, rules...)
		m := rapyer.MustNew[Flat](user, rapyer.Options{Prefix: prefix, TTL: time.Minute})
		_, again0 := transport.ShapeRuns()
		refusedSave(t, b, m, flatValues()[2], fmt.Sprintf("a user without %s (scripts %v)", missing, scripts))
		if _, again := transport.ShapeRuns(); scripts && again == again0 {
			t.Fatalf("a user without %s: the compiled save did not leave the save to the interpreter", missing)
		}
	}
}
