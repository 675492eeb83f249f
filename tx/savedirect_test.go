package tx_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Nest is a model without collections whose field set depends on the
// value: nested structs, a pointer to a struct (its marker field), pointer
// scalars.
type Nest struct {
	Name  string
	Home  NestAddr
	Work  *NestAddr
	Rank  *int
	Ratio float64
}

// NestAddr is a nested struct of Nest.
type NestAddr struct {
	City string
	Zip  *string
}

// randomNest is a Nest with each optional part there or not.
func randomNest(r *rand.Rand) Nest {
	s := func() *string { x := fmt.Sprint("z", r.IntN(100)); return &x }
	v := Nest{Name: fmt.Sprint("n", r.IntN(1000)), Home: NestAddr{City: "c"}, Ratio: r.Float64()}
	if r.IntN(2) == 0 {
		v.Home.Zip = s()
	}
	if r.IntN(2) == 0 {
		v.Work = &NestAddr{City: "w"}
		if r.IntN(2) == 0 {
			v.Work.Zip = s()
		}
	}
	if r.IntN(2) == 0 {
		n := r.IntN(50)
		v.Rank = &n
	}
	return v
}

// storedHash is the root hash at root, its version left out, and whether
// it has a TTL.
func storedHash(ctx context.Context, b *testenv.Backend, root string) string {
	h := b.Client.HGetAll(ctx, root).Val()
	delete(h, "__v")
	var fs []string
	for f, x := range h {
		fs = append(fs, f+"="+x)
	}
	sort.Strings(fs)
	return fmt.Sprint(fs, " ttl=", b.Client.PTTL(ctx, root).Val() > 0)
}

// TestDirectSavesStoreWhatTheInterpreterStores: random values of a model
// whose field set depends on the value (nested structs, a pointer to a
// struct, pointer scalars), saved by Exec (a plain Save: the direct path)
// with and without a TTL over a stored model with a stray field, leave the
// hash the generic interpreter leaves for the same batch, and the version
// counts once per Save; on every tier.
func TestDirectSavesStoreWhatTheInterpreterStores(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Nest](b.Client, rapyer.Options{Prefix: b.Prefix + "nest"})
		target := m.Target("d")
		root := target.Root()
		r := rand.New(rand.NewPCG(uint64(seed), 13))
		for i := range 60 {
			v := randomNest(r)
			batch := tx.On(target, ops.Replace(v))
			if r.IntN(3) == 0 {
				batch = tx.On(target, ops.Replace(v), ops.Expire[Nest](time.Minute))
			}
			p, err := tx.BuildProgram(b.Client, batch, tx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			b.Client.HSet(ctx, root, "__v", "41", "stray", "s")
			if _, err := p.Interpreter(ctx, b.Client); err != nil {
				t.Fatal(err)
			}
			want := storedHash(ctx, b, root)
			b.Client.Del(ctx, root)
			b.Client.HSet(ctx, root, "__v", "41", "stray", "s")
			if _, err := tx.Exec(ctx, b.Client, batch, tx.Options{}); err != nil {
				t.Fatal(err)
			}
			if got := storedHash(ctx, b, root); got != want {
				t.Fatalf("save %d of %+v: direct %s, the interpreter %s", i, v, got, want)
			}
			if v := b.Client.HGet(ctx, root, "__v").Val(); v != "42" {
				t.Fatalf("save %d: version %s after one Save from 41", i, v)
			}
			b.Client.Del(ctx, root)
		}
		if compiled, program := tx.DirectShapes(target); compiled < 4 || program > 0 {
			t.Fatalf("the direct path's shapes: %d compiled, %d by a program", compiled, program)
		}
	})
}

// Wide has more fields than a direct Save keeps room for in its one
// allocation (14).
type Wide struct {
	A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T int
}

// TestDirectSaveOfAWideModel: a Save of a model of 20 fields goes by the
// direct path (its words past the room) and reads back as saved; on every
// tier.
func TestDirectSaveOfAWideModel(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Wide](b.Client, rapyer.Options{Prefix: b.Prefix + "wide"})
		var prev int64
		for i := range 3 {
			v := Wide{A: i, B: 2, J: 10 + i, P: 16, T: 20 * i}
			if err := m.Save(ctx, "w", v); err != nil {
				t.Fatal(err)
			}
			got, ver, err := m.GetWithVersion(ctx, "w")
			if err != nil || got != v {
				t.Fatalf("save %d: read %+v, %v; saved %+v", i, got, err, v)
			}
			if i > 0 && ver != prev+1 {
				t.Fatalf("save %d: version %d after %d", i, ver, prev)
			}
			prev = ver
		}
		if compiled, program := tx.DirectShapes(m.Target("w")); compiled != 1 || program > 0 {
			t.Fatalf("the direct path's shapes: %d compiled, %d by a program", compiled, program)
		}
	})
}
