package rapyer_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// s19Coupon is a struct held by pointer, itself holding one: ops on its
// fields while the pointers are nil.
type s19Coupon struct {
	Off   int
	Code  string
	Uses  []string
	Extra *s19Extra
}

// s19Extra is the struct two pointers deep.
type s19Extra struct {
	Note string
	N    int
}

// s19Cart holds its coupon by pointer.
type s19Cart struct {
	Owner  string
	Coupon *s19Coupon
}

// TestAnOpUnderANilPointerAllocatesIt: an op on a field of a struct held by
// a nil pointer (Coupon.Off with Coupon nil) sets the pointer on its way,
// as lens.Set does on a Go value, so Get reads the write back. Before, the
// op stored coupon.off without the coupon marker: Get answered a nil
// Coupon, and the write lay hidden until something set the pointer.
func TestAnOpUnderANilPointerAllocatesIt(t *testing.T) {
	off := lens.Of(func(c *s19Cart) *int { return &c.Coupon.Off })
	code := lens.Of(func(c *s19Cart) *string { return &c.Coupon.Code })
	uses := lens.Of(func(c *s19Cart) *[]string { return &c.Coupon.Uses })
	note := lens.Of(func(c *s19Cart) *string { return &c.Coupon.Extra.Note })
	n := lens.Of(func(c *s19Cart) *int { return &c.Coupon.Extra.N })
	cases := []struct {
		name string
		ops  tx.Batch
	}{
		{"Incr", tx.Of(ops.Incr(off, 5))},
		{"Set", tx.Of(ops.Set(code, "X"))},
		{"AppendText", tx.Of(ops.AppendText(code, "X"))},
		{"Append", tx.Of(ops.Append(uses, "u1"))},
		{"two deep", tx.Of(ops.Set(note, "hi"), ops.Incr(n, 2))},
	}
	want := map[string]*s19Coupon{
		"Incr":       {Off: 5},
		"Set":        {Code: "X"},
		"AppendText": {Code: "X"},
		"Append":     {Uses: []string{"u1"}},
		"two deep":   {Extra: &s19Extra{Note: "hi", N: 2}},
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		m := rapyer.MustNew[s19Cart](b.Client, rapyer.Options{Prefix: b.Prefix + "nilptr"})
		for _, c := range cases {
			if err := m.Save(ctx, c.name, s19Cart{Owner: "o"}); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Exec(ctx, c.name, c.ops); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			got, err := m.Get(ctx, c.name)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(s19Cart{Owner: "o", Coupon: want[c.name]}, got); d != "" {
				t.Errorf("%s under a nil Coupon, Get (-want +got):\n%s", c.name, d)
			}
		}
	})
}
