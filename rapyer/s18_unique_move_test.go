package rapyer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestAUniqueValueMovesBetweenModelsInOneBatch: a batch in which one
// model lets a value of a Unique index go (another value, or deleted) and
// another takes it leaves no two models with one value, and is applied:
// in either order of the two, as a swap, by Exec of a joined batch and by
// SaveMany. A model that keeps the value still refuses it to the other.
// Before, the claim was checked against the value stored before the
// batch: every such batch failed with ErrDuplicate.
func TestAUniqueValueMovesBetweenModelsInOneBatch(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, o := ixMembers(t, b, rapyer.Options{})
		email := func(id, want string) {
			t.Helper()
			if v, err := m.Get(ctx, id); err != nil || v.Email != want {
				t.Fatalf("%s: %+v, %v; want email %q", id, v, err, want)
			}
		}
		set := func(id, e string) tx.Batch { return tx.On(m.Target(id), ops.Set(mbEmail, e)) }
		run := func(what string, bs ...tx.Batch) error {
			t.Helper()
			_, err := tx.Exec(ctx, b.Client, tx.Join(bs...), tx.Options{})
			o.Check(t, what)
			return err
		}
		for _, id := range []string{"a", "b"} {
			if err := m.Save(ctx, id, ixMember{Email: id + "@x"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := run("b lets go, then a takes", set("b", "b@y"), set("a", "b@x")); err != nil {
			t.Fatal(err)
		}
		email("a", "b@x")
		if err := run("a takes, then b lets go", set("a", "b@y"), set("b", "b@z")); err != nil {
			t.Fatal(err)
		}
		email("a", "b@y")
		if err := run("a swap", set("a", "b@z"), set("b", "b@y")); err != nil {
			t.Fatal(err)
		}
		email("a", "b@z")
		email("b", "b@y")
		if err := run("b deleted, a takes", tx.On(m.Target("b"), ops.Delete[ixMember]()), set("a", "b@y")); err != nil {
			t.Fatal(err)
		}
		email("a", "b@y")
		if err := m.SaveMany(ctx, []rapyer.Entry[ixMember]{{ID: "a", Value: ixMember{Email: "c@x"}}, {ID: "c", Value: ixMember{Email: "b@y"}}}); err != nil {
			t.Fatal(err)
		}
		o.Check(t, "SaveMany")
		email("c", "b@y")
		// c keeps b@y (another field changes): a is refused, nothing written
		err := run("c keeps it", tx.On(m.Target("c"), ops.Set(mbScore, 2)), set("a", "b@y"))
		if !errors.Is(err, rapyer.ErrDuplicate) {
			t.Fatalf("a value kept: %v, want ErrDuplicate", err)
		}
		email("a", "c@x")
		if v, _ := m.Get(ctx, "c"); v.Score != 0 {
			t.Fatalf("c written by a refused batch: %+v", v)
		}
	})
}
