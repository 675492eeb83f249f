package rapyer_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestDuplicate: the copy holds every field and collection of the model,
// under a new id or the given one; a missing model or an existing target
// fails and writes nothing.
func TestDuplicate(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for _, tag := range []func(string) string{nil, sameTag} {
			m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "dup", HashTag: tag})
			in := Account{Owner: "a", Balance: 7, History: []string{"x", "y"}, Limits: map[string]int{"d": 1}, Flags: map[string]struct{}{"f": {}}}
			if err := m.Save(ctx, "a", in); err != nil {
				t.Fatal(err)
			}
			id, err := m.Duplicate(ctx, "a", "")
			if err != nil || id == "" || id == "a" {
				t.Fatalf("Duplicate = %q, %v", id, err)
			}
			got, err := m.Get(ctx, id)
			if err != nil || !reflect.DeepEqual(got, in) {
				t.Fatalf("the copy is %+v, %v; want %+v", got, err, in)
			}
			if id, err := m.Duplicate(ctx, "a", "b"); err != nil || id != "b" {
				t.Fatalf("Duplicate to b = %q, %v", id, err)
			}
			if _, err := m.Duplicate(ctx, "a", "b"); !errors.Is(err, rapyer.ErrExists) {
				t.Fatalf("Duplicate onto an existing id = %v, want ErrExists", err)
			}
			if _, err := m.Duplicate(ctx, "nobody", "c"); !errors.Is(err, rapyer.ErrNotFound) {
				t.Fatalf("Duplicate of a missing model = %v, want ErrNotFound", err)
			}
			if ok, _ := m.Exists(ctx, "c"); ok {
				t.Fatal("a failed Duplicate created its target")
			}
			if _, err := m.DeleteMany(ctx, "a", "b", id); err != nil {
				t.Fatal(err)
			}
		}
	})
}
