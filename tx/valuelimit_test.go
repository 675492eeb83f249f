package tx_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestSaveOfAValueOverRedisLimit: a Save (the direct path, and the
// interpreter's for a model with collections) of a field longer than the
// 512 MB Redis stores in one value fails with ErrTooLarge before anything
// is sent: no round trip, the stored model as it was. Before, the server
// cut the connection while the request was written, and the caller got
// ErrUnknownOutcome after resends of the whole value.
func TestSaveOfAValueOverRedisLimit(t *testing.T) {
	huge := strings.Repeat("x", 512<<20+1)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		nest := rapyer.MustNew[Nest](b.Client, rapyer.Options{Prefix: b.Prefix + "huge"})
		acct := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "hugeacct"})
		if err := nest.Save(ctx, "n", Nest{Name: "small"}); err != nil {
			t.Fatal(err)
		}
		count := testenv.CountRoundTrips(b.Client)
		_, err := tx.Exec(ctx, b.Client, tx.On(nest.Target("n"), ops.Replace(Nest{Name: huge})), tx.Options{})
		if !errors.Is(err, rapyer.ErrTooLarge) {
			t.Fatalf("a direct Save of a value over 512 MB: %v; want ErrTooLarge", err)
		}
		_, err = tx.Exec(ctx, b.Client, tx.On(acct.Target("a"), ops.Replace(Account{Owner: huge})), tx.Options{})
		if !errors.Is(err, rapyer.ErrTooLarge) {
			t.Fatalf("a Save of a model with collections, of a value over 512 MB: %v; want ErrTooLarge", err)
		}
		if n := count.Count(); n != 0 {
			t.Fatalf("%d round trips for Saves refused before sending: %s", n, count)
		}
		if got, err := nest.Get(ctx, "n"); err != nil || got.Name != "small" {
			t.Fatalf("the stored model after the refusal: %+v, %v", got, err)
		}
	})
}

type hugeColl struct {
	Name string
	List []string
	M    map[string]string
	S    map[string]struct{}
	N    map[string]int
}

var (
	hugeName = lens.Of(func(a *hugeColl) *string { return &a.Name })
	hugeList = lens.Of(func(a *hugeColl) *[]string { return &a.List })
	hugeMap  = lens.Of(func(a *hugeColl) *map[string]string { return &a.M })
	hugeSet  = lens.Of(func(a *hugeColl) *map[string]struct{} { return &a.S })
	hugeNums = lens.Of(func(a *hugeColl) *map[string]int { return &a.N })
)

// TestOpsWithAValueOverRedisLimit: an op of a batch that sends a list
// element, a map key or value, a set member, the text of AppendText or a
// guard's operand longer than the 512 MB Redis takes in one value fails
// with ErrTooLarge before anything is sent, even with the byte budget
// lifted. Before, only values encoded through a codec's slow path were
// checked: strings and bytes took a fast path, were sent, and the server
// cut the connection while reading them; the caller got ErrUnknownOutcome
// after two resends of the whole value (miniredis stored it).
func TestOpsWithAValueOverRedisLimit(t *testing.T) {
	huge := strings.Repeat("x", 512<<20+1)
	cases := []tx.Batch{
		tx.Of(ops.AppendText(hugeName, huge)),
		tx.Of(ops.Append(hugeList, huge)),
		tx.Of(ops.Prepend(hugeList, "ok", huge)),
		tx.Of(ops.InsertAt(hugeList, 0, huge)),
		tx.Of(ops.SetAt(hugeList, 0, huge)),
		tx.Of(ops.Remove(hugeList, huge)),
		tx.Of(ops.SetItem(hugeMap, "k", huge)),
		tx.Of(ops.SetItem(hugeMap, huge, "v")),
		tx.Of(ops.SetItems(hugeMap, map[string]string{"a": "b", "k": huge})),
		tx.Of(ops.DeleteItems(hugeMap, huge)),
		tx.Of(ops.GetItem(hugeMap, huge)),
		tx.Of(ops.PopItem(hugeMap, huge, "")),
		tx.Of(ops.IncrItem(hugeNums, huge, 1)),
		tx.Of(ops.Add(hugeSet, huge)),
		tx.Of(ops.Discard(hugeSet, huge)),
		tx.Of(ops.Set(hugeName, "fine"), ops.Require(is.Equal(hugeName, huge))),
		tx.Of(ops.Require(is.Member(hugeSet, huge))),
		tx.Of(ops.Require(is.Key(hugeMap, huge))),
		tx.Of(ops.Require(is.HasPrefix(hugeName, huge))),
		tx.Of(ops.Require(is.Element(hugeList, huge))),
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[hugeColl](b.Client, rapyer.Options{Prefix: b.Prefix + "hugecoll"})
		want := hugeColl{Name: "small", List: []string{"a"}, M: map[string]string{"k": "v"}, S: map[string]struct{}{"s": {}}, N: map[string]int{"n": 1}}
		if err := m.Save(ctx, "n", want); err != nil {
			t.Fatal(err)
		}
		count := testenv.CountRoundTrips(b.Client)
		for i, c := range cases {
			_, err := tx.Exec(ctx, b.Client, c.On(m.Target("n")), tx.Options{Budget: tx.Budget{Bytes: tx.Unlimited}})
			if !errors.Is(err, rapyer.ErrTooLarge) {
				t.Errorf("batch %d (%s): %.300v; want ErrTooLarge", i, c, err)
			}
		}
		for i, v := range []hugeColl{{List: []string{huge}}, {M: map[string]string{"k": huge}}, {M: map[string]string{huge: "v"}}, {S: map[string]struct{}{huge: {}}}} {
			if err := m.Save(ctx, "n", v); !errors.Is(err, rapyer.ErrTooLarge) {
				t.Errorf("Save %d of a collection with a value over 512 MB: %.300v; want ErrTooLarge", i, err)
			}
		}
		if n := count.Count(); n != 0 {
			t.Fatalf("%d round trips for batches refused before sending: %s", n, count)
		}
		_, err := m.Lock(ctx, "n", "edit", func(_ context.Context, v *hugeColl) error {
			v.M = map[string]string{"k": huge}
			return nil
		})
		if !errors.Is(err, rapyer.ErrTooLarge) {
			t.Errorf("a model lock whose save sets a map value over 512 MB: %.300v; want ErrTooLarge", err)
		}
		if _, err := m.Lock(ctx, "n", "edit", func(context.Context, *hugeColl) error { return nil }, rapyer.WithWait(lock.NoWait)); err != nil {
			t.Fatalf("the lock after a refused save: %v", err)
		}
		if got, err := m.Get(ctx, "n"); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("the stored model after the refusals: %+v, %v", got, err)
		}
	})
}
