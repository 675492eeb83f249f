package rapyer_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

type Base struct {
	ID      string
	Created time.Time
	Tags    []string
}

type Audit struct {
	By    string
	Notes map[string]int
}

// Member embeds a struct and a pointer to one: their fields are promoted
// into the member's namespace, as encoding/json does.
type Member struct {
	Base
	*Audit
	Name string
}

// TestEmbeddedStructs: the fields of an embedded struct (and of an
// embedded pointer) are stored under their own names, collections
// included; lenses reach promoted fields; a nil embedded pointer stays nil.
func TestEmbeddedStructs(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Member](b.Client, rapyer.Options{Prefix: b.Prefix + "member"})
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		in := Member{Base: Base{ID: "u1", Created: at, Tags: []string{"a"}}, Audit: &Audit{By: "ops", Notes: map[string]int{"x": 1}}, Name: "Ann"}
		if err := m.Save(ctx, "u1", in); err != nil {
			t.Fatal(err)
		}
		root, _ := m.Key("u1")
		fields, err := b.Client.HGetAll(ctx, root).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"id", "created", "by", "name", "audit"} {
			if _, ok := fields[f]; !ok {
				t.Fatalf("root hash %v lacks the promoted field %q", fields, f)
			}
		}
		if n, _ := b.Client.Exists(ctx, root+":tags", root+":notes").Result(); n != 2 {
			t.Fatalf("%d of the promoted collection keys exist, want 2", n)
		}
		got, err := m.Get(ctx, "u1")
		if err != nil || !reflect.DeepEqual(got, in) {
			t.Fatalf("Get = %+v, %v; want %+v", got, err, in)
		}
		id := lens.Of(func(u *Member) *string { return &u.ID })
		by := lens.Of(func(u *Member) *string { return &u.By })
		tags := lens.Of(func(u *Member) *[]string { return &u.Tags })
		if _, err := m.Exec(ctx, "u1", tx.Of(ops.Set(id, "u2"), ops.Set(by, "root"), ops.Append(tags, "b"))); err != nil {
			t.Fatal(err)
		}
		got, err = m.Get(ctx, "u1")
		if err != nil || got.ID != "u2" || got.By != "root" || len(got.Tags) != 2 {
			t.Fatalf("after the batch Get = %+v, %v", got, err)
		}
		// A lock saves what changed (a diff): a promoted field, a promoted
		// collection, and the embedded pointer set to nil.
		_, err = m.Lock(ctx, "u1", "edit", func(_ context.Context, u *Member) error {
			u.Name, u.Tags = "Cy", append(u.Tags, "c")
			u.Audit = nil
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err = m.Get(ctx, "u1")
		if err != nil || got.Name != "Cy" || len(got.Tags) != 3 || got.Audit != nil || got.ID != "u2" {
			t.Fatalf("after the lock Get = %+v, %v", got, err)
		}
		if n, _ := b.Client.Exists(ctx, root+":notes").Result(); n != 0 {
			t.Fatal("a nil embedded pointer left its collection key")
		}
		if err := m.Save(ctx, "u3", Member{Name: "Bo"}); err != nil {
			t.Fatal(err)
		}
		got, err = m.Get(ctx, "u3")
		if err != nil || got.Audit != nil || got.Name != "Bo" {
			t.Fatalf("nil embedded pointer: Get = %+v, %v", got, err)
		}
	})
}

// TestEmbeddedConflictNamesBothFields: a promoted field whose stored name
// is taken is refused, and the error names both Go fields.
func TestEmbeddedConflictNamesBothFields(t *testing.T) {
	type Shadow struct {
		Base
		ID string
	}
	_, err := rapyer.New[Shadow](testenv.On(t, testenv.Mini).Client, rapyer.Options{})
	if err == nil || !strings.Contains(err.Error(), "field ID of") || !strings.Contains(err.Error(), "by field Base.ID too") {
		t.Fatalf("New = %v, want an error naming ID and Base.ID", err)
	}
}
