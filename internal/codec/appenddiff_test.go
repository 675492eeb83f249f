package codec_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// nested has what changes the fields a diff writes: a nested struct, a
// pointer to a struct (its marker), pointer scalars inside both.
type nested struct {
	Name string
	N    int
	Home place
	Work *place
	Rank *int
	F    float64
	When time.Time
}

type place struct {
	City string
	Zip  *string
}

func randomNested(r *rand.Rand) nested {
	str := func() *string { s := fmt.Sprint("z", r.IntN(3)); return &s }
	v := nested{Name: fmt.Sprint("n", r.IntN(3)), N: r.IntN(3) * 150, F: float64(r.IntN(3)) / 2, When: time.Unix(int64(r.IntN(2)), 0).UTC()}
	v.Home.City = fmt.Sprint("c", r.IntN(2))
	if r.IntN(2) == 0 {
		v.Home.Zip = str()
	}
	if r.IntN(2) == 0 {
		v.Work = &place{City: fmt.Sprint("w", r.IntN(2))}
		if r.IntN(2) == 0 {
			v.Work.Zip = str()
		}
	}
	if r.IntN(2) == 0 {
		n := r.IntN(3)
		v.Rank = &n
	}
	return v
}

// TestAppendDiffIsEmitDiffsFields: for random pairs of values, AppendDiff
// gives the fields EmitDiff removes and sets, in its order (an HDEL, then
// an HSET), and declines exactly the changes EmitDiff writes otherwise (a
// pointer to a struct that became nil); a model with collections is
// declined whatever changed.
func TestAppendDiffIsEmitDiffsFields(t *testing.T) {
	m, err := schema.For[nested]()
	if err != nil {
		t.Fatal(err)
	}
	target := prog.Target{Root: "n:{x}", Model: m}
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 14))
	direct := 0
	for i := range 2000 {
		before, after := randomNested(r), randomNested(r)
		b := prog.NewBuilder()
		b.Declare(target, prog.Need)
		if err := codec.EmitDiff(b, target, unsafe.Pointer(&before), unsafe.Pointer(&after)); err != nil {
			t.Fatal(err)
		}
		pairs, dels, ok, err := codec.AppendDiff([]string{"word"}, nil, m, unsafe.Pointer(&before), unsafe.Pointer(&after))
		if err != nil {
			t.Fatal(err)
		}
		if drops := before.Work != nil && after.Work == nil; ok == drops {
			t.Fatalf("seed %d, pair %d: %+v -> %+v: AppendDiff direct %v", seed, i, before, after, ok)
		}
		if !ok {
			continue
		}
		direct++
		if pairs[0] != "word" {
			t.Fatalf("seed %d: AppendDiff did not append to its pairs: %q", seed, pairs)
		}
		var got []string
		if len(dels) > 0 {
			got = append(got, fmt.Sprintf("hdel %q", append([]string{target.Root}, dels...)))
		}
		if len(pairs) > 1 {
			got = append(got, fmt.Sprintf("hset %q", append([]string{target.Root}, pairs[1:]...)))
		}
		var want []string
		for _, in := range b.Instrs() {
			want = append(want, fmt.Sprintf("%s %q", in.Op, in.Args))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("seed %d, pair %d: %+v -> %+v (-EmitDiff +AppendDiff):\n%s", seed, i, before, after, diff)
		}
	}
	if direct < 1000 {
		t.Fatalf("seed %d: %d of 2000 pairs direct", seed, direct)
	}
	cm, err := schema.For[withList]()
	if err != nil {
		t.Fatal(err)
	}
	x, y := withList{N: 1}, withList{N: 2}
	if _, _, ok, err := codec.AppendDiff(nil, nil, cm, unsafe.Pointer(&x), unsafe.Pointer(&y)); ok || err != nil {
		t.Fatalf("a model with collections: direct %v, %v", ok, err)
	}
}

type withList struct {
	N    int
	Tags []string
}
