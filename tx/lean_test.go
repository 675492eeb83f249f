package tx_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Profile has a field of every storage: scalars in the root hash, a list,
// a map and a set in keys of their own.
type Profile struct {
	Name   string
	Age    int
	Tags   []string
	Limits map[string]int
	Flags  map[string]struct{}
}

func bigProfile() Profile {
	p := Profile{Name: "big", Age: 1, Limits: map[string]int{}, Flags: map[string]struct{}{}}
	for i := range 2500 { // past the 1000 arguments a command carries
		p.Tags = append(p.Tags, strconv.Itoa(i))
		p.Limits["k"+strconv.Itoa(i)] = i
		p.Flags["f"+strconv.Itoa(i)] = struct{}{}
	}
	return p
}

var leanValues = []Profile{
	{},
	{Name: "ada", Age: 36},
	{Name: "ada", Tags: []string{"a", "b", "a"}, Limits: map[string]int{"day": 10}, Flags: map[string]struct{}{"vip": {}}},
	bigProfile(),
}

// saveBatch is what Model.Save sends: a Replace, with an Expire when the
// model has a TTL.
func saveBatch(t tx.Target, v Profile, ttl bool) tx.Batch {
	o := []ops.Op{ops.Replace(v)}
	if ttl {
		o = append(o, ops.Expire[Profile](time.Minute))
	}
	return tx.Of(o...).On(t)
}

// snapshot is every key of the model as stored: its type, its bytes (DUMP)
// and whether it has a TTL. Where DUMP says nothing stable it gives the
// contents: on miniredis, which has no DUMP of collections, and for a hash
// or set in a hash table, whose DUMP follows the order of insertion, which
// is a Go map's order. The version is set to 0 first when zero says so (a created
// model's version comes from the clock).
func snapshot(t *testing.T, b *testenv.Backend, target tx.Target, zero bool) []string {
	t.Helper()
	ctx := context.Background()
	c := b.Client
	if zero && c.Exists(ctx, target.Root()).Val() == 1 {
		c.HSet(ctx, target.Root(), "__v", "0")
	}
	var out []string
	for _, k := range tx.Keys(target) {
		typ := c.Type(ctx, k).Val()
		var body any
		switch {
		case typ == "none":
		case b.Kind != testenv.Mini && c.ObjectEncoding(ctx, k).Val() != "hashtable":
			body = c.Dump(ctx, k).Val()
		case typ == "hash":
			body = c.HGetAll(ctx, k).Val() // fmt sorts a map
		case typ == "list":
			body = c.LRange(ctx, k, 0, -1).Val()
		case typ == "set":
			s := c.SMembers(ctx, k).Val()
			slices.Sort(s)
			body = s
		}
		sum := sha256.Sum256([]byte(fmt.Sprint(body)))
		out = append(out, fmt.Sprintf("%s %s %x ttl=%v", k, typ, sum[:8], c.PTTL(ctx, k).Val() > 0))
	}
	return out
}

// TestLeanSaveStoresWhatTheInterpreterStores: a Save on the lean form
// leaves every key byte for byte as the interpreter's Replace does, on a
// missing model and on one with other data, a stray field and a TTL.
func TestLeanSaveStoresWhatTheInterpreterStores(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Profile](b.Client, rapyer.Options{Prefix: b.Prefix + "prof"})
		target := m.Target("a")
		prior := func(exists bool) {
			b.Client.Del(ctx, tx.Keys(target)...)
			if exists {
				if err := m.Save(ctx, "a", leanValues[2]); err != nil {
					t.Fatal(err)
				}
				b.Client.HSet(ctx, target.Root(), "__v", "41", "stray", "x")
				b.Client.PExpire(ctx, target.Root(), time.Hour)
			}
		}
		for _, exists := range []bool{false, true} {
			for i, v := range leanValues {
				for _, ttl := range []bool{false, true} {
					batch := saveBatch(target, v, ttl)
					if !tx.IsLean(b.Client, batch, tx.Options{}) {
						t.Fatal("a Save batch is not lean")
					}
					prior(exists)
					if _, err := tx.ExecOnInterpreter(ctx, b.Client, batch, tx.Options{}); err != nil {
						t.Fatal(err)
					}
					ver := b.Client.HGet(ctx, target.Root(), "__v").Val()
					want := snapshot(t, b, target, true)
					prior(exists)
					if _, err := tx.Exec(ctx, b.Client, batch, tx.Options{}); err != nil {
						t.Fatal(err)
					}
					if got := b.Client.HGet(ctx, target.Root(), "__v").Val(); exists && (got != "42" || ver != "42") {
						t.Fatalf("versions after 41: lean %s, interpreter %s", got, ver)
					}
					if got := snapshot(t, b, target, true); !slices.Equal(got, want) {
						t.Fatalf("value %d (exists %v, ttl %v): lean stored\n%v\nthe interpreter\n%v", i, exists, ttl, got, want)
					}
				}
			}
		}
	})
}

// TestLeanSaveOfAWrongTypeWritesNothing: a collection key of another type
// fails the Save with ErrWrongType before any write, in a SaveMany too.
func TestLeanSaveOfAWrongTypeWritesNothing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Profile](b.Client, rapyer.Options{Prefix: b.Prefix + "prof", HashTag: func(string) string { return "t" }})
		if err := m.Save(ctx, "a", leanValues[1]); err != nil {
			t.Fatal(err)
		}
		tags := tx.Keys(m.Target("b"))[1]
		b.Client.Set(ctx, tags, "not a list", 0)
		before := append(snapshot(t, b, m.Target("a"), false), snapshot(t, b, m.Target("b"), false)...)
		err := m.Save(ctx, "b", leanValues[2])
		if !errors.Is(err, rapyer.ErrWrongType) {
			t.Fatalf("Save over a string: %v, want ErrWrongType", err)
		}
		err = m.SaveMany(ctx, []rapyer.Entry[Profile]{{ID: "a", Value: leanValues[2]}, {ID: "b", Value: leanValues[2]}})
		if !errors.Is(err, rapyer.ErrWrongType) {
			t.Fatalf("SaveMany over a string: %v, want ErrWrongType", err)
		}
		after := append(snapshot(t, b, m.Target("a"), false), snapshot(t, b, m.Target("b"), false)...)
		if !slices.Equal(before, after) {
			t.Fatalf("a failed Save wrote:\n%v\nbefore:\n%v", after, before)
		}
		b.Client.Set(ctx, m.Target("c").Root(), "x", 0)
		if err := m.Save(ctx, "c", leanValues[1]); !errors.Is(err, rapyer.ErrWrongType) {
			t.Fatalf("Save over a string root: %v, want ErrWrongType", err)
		}
	})
}

// TestLeanSaveLostReplyIsAppliedOnce: a Save whose reply is lost is resent
// and answered from its record: the version moves by one.
func TestLeanSaveLostReplyIsAppliedOnce(t *testing.T) {
	for _, tier := range []testenv.Kind{testenv.Mini, testenv.Server} {
		t.Run(string(tier), func(t *testing.T) {
			lostSaveReply(t, testenv.On(t, tier), "prof", leanValues[1], leanValues[2], saveBatch)
		})
	}
}

// lostSaveReply saves first as the model "a" of a type under prefix,
// sets its version to 7, and sends the batch that saves second through a
// proxy that drops its reply, with no go-redis retries: the executor's
// resend must be answered from the record, and the version be 8.
func lostSaveReply[T any](t *testing.T, b *testenv.Backend, prefix string, first, second T, batch func(tx.Target, T, bool) tx.Batch) {
	ctx := context.Background()
	p := throughProxy(t, b, func(o *redis.UniversalOptions) { o.MaxRetries = -1 })
	m := rapyer.MustNew[T](p.rdb, rapyer.Options{Prefix: b.Prefix + prefix})
	if err := m.Save(ctx, "a", first); err != nil {
		t.Fatal(err)
	}
	b.Client.HSet(ctx, m.Target("a").Root(), "__v", "7")
	var res *tx.Result
	err := p.loseReply(t, func() (err error) {
		res, err = tx.Exec(ctx, p.rdb, batch(m.Target("a"), second, false), tx.Options{})
		return err
	}, "FCALL", "EVALSHA", "EVAL")
	if err != nil || !res.Duplicate {
		t.Fatalf("a lost reply: %v, %+v; want a duplicate", err, res)
	}
	if v := b.Client.HGet(ctx, m.Target("a").Root(), "__v").Val(); v != "8" {
		t.Fatalf("the version after one Save from 7: %s", v)
	}
}

// TestLeanSaveTTL: a model with a TTL gets it on every key a Save writes.
func TestLeanSaveTTL(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Profile](b.Client, rapyer.Options{Prefix: b.Prefix + "prof", TTL: time.Minute})
		if err := m.Save(ctx, "a", leanValues[2]); err != nil {
			t.Fatal(err)
		}
		for _, k := range tx.Keys(m.Target("a")) {
			if d := b.Client.PTTL(ctx, k).Val(); d <= 0 || d > time.Minute {
				t.Fatalf("%s has the TTL %v", k, d)
			}
		}
	})
}

// TestLeanSaveWithoutPermission: a user who may not send a command the
// Save sends gets ErrNoPermission, and nothing is written: the first write
// (DEL) refused by the server, or a later one refused by the checks.
func TestLeanSaveWithoutPermission(t *testing.T) {
	for _, tier := range []testenv.Kind{testenv.Server, testenv.Cluster} {
		t.Run(string(tier), func(t *testing.T) {
			b := testenv.On(t, tier)
			ctx := context.Background()
			prefix := b.Prefix + "prof"
			admin := rapyer.MustNew[Profile](b.Client, rapyer.Options{Prefix: prefix})
			if err := admin.Save(ctx, "a", leanValues[1]); err != nil {
				t.Fatal(err)
			}
			all := []string{"+del", "+hset", "+rpush", "+sadd", "+pexpire"}
			for _, missing := range all {
				user := b.NewUser(t, leanRules(prefix, all, missing)...)
				m := rapyer.MustNew[Profile](user, rapyer.Options{Prefix: prefix, TTL: time.Minute})
				refusedSave(t, b, m, leanValues[2], "a user without "+missing)
			}
		})
	}
}

// leanRules are the ACL rules of a user of the models under prefix who may
// send what a save reads with and every command of all but missing.
func leanRules(prefix string, all []string, missing string) []string {
	rules := []string{"resetkeys", "~tx{*", "~" + prefix + ":*", "nocommands", "+fcall", "+function|load", "+multi", "+exec",
		"+hget", "+type", "+get", "+set", "+time", "+cluster|slots", "+command", "+ping", "+hello", "+client"}
	for _, c := range all {
		if c != missing {
			rules = append(rules, c)
		}
	}
	return rules
}

// refusedSave saves v as the model "a" through m, whose user may not send a
// command of the save (who names it), and fails t unless the save is
// refused with ErrNoPermission, having written nothing.
func refusedSave[T any](t *testing.T, b *testenv.Backend, m *rapyer.Model[T], v T, who string) {
	before := snapshot(t, b, m.Target("a"), false)
	if err := m.Save(context.Background(), "a", v); !errors.Is(err, rapyer.ErrNoPermission) {
		t.Fatalf("%s: %v, want ErrNoPermission", who, err)
	}
	if after := snapshot(t, b, m.Target("a"), false); !slices.Equal(before, after) {
		t.Fatalf("%s wrote:\n%v\nbefore:\n%v", who, after, before)
	}
}
