package rapyer_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// S19Base is a struct shared by embedding, as in type User struct { Base; ... }.
type S19Base struct {
	ID      string
	Created time.Time
}

// S19Audit is embedded by pointer.
type S19Audit struct {
	By   string
	Seen int
}

// S19User embeds S19Base by value and S19Audit by pointer.
type S19User struct {
	S19Base
	*S19Audit
	Name string
}

// The lenses a shop writes once for its shared Base and reuses in every
// type that embeds it (docs/storage.md: lenses reach promoted fields).
var (
	s19BaseID   = lens.Of(func(b *S19Base) *string { return &b.ID })
	s19UserBase = lens.Of(func(u *S19User) *S19Base { return &u.S19Base })
	s19UserID   = lens.Compose(s19UserBase, s19BaseID)
	s19UserSeen = lens.Of(func(u *S19User) *int { return &u.Seen })
)

// TestLensesThroughEmbeddedStructsReachThePromotedFields: a lens to an
// embedded struct, and one composed through it, name the promoted fields
// ("id", not "s19_base.id"), and ops on them change what Get reads. They
// were refused with ErrInvalid ("PUser.s19_base.id is not a stored field"),
// or for a composed one named a field nothing stores.
func TestLensesThroughEmbeddedStructsReachThePromotedFields(t *testing.T) {
	if got := s19UserID.Path(); got != "id" {
		t.Fatalf("Compose(embedded Base, ID).Path() = %q, want the promoted name id", got)
	}
	if got := s19UserSeen.Path(); got != "seen" {
		t.Fatalf("the lens of a field of an embedded *Audit has Path() %q, want the promoted name seen", got)
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		users := rapyer.MustNew[S19User](b.Client, rapyer.Options{Prefix: b.Prefix + "user"})
		if err := users.Save(ctx, "u1", S19User{S19Base: S19Base{ID: "old"}, S19Audit: &S19Audit{By: "x"}, Name: "ann"}); err != nil {
			t.Fatal(err)
		}
		_, err := users.Exec(ctx, "u1", tx.Of(
			ops.Require(is.Equal(s19UserID, "old")),
			ops.Set(s19UserBase, S19Base{ID: "mid"}),
		))
		if err != nil {
			t.Fatalf("Set of an embedded struct's lens: %v", err)
		}
		if _, err := users.Exec(ctx, "u1", tx.Of(ops.Set(s19UserID, "new"), ops.Incr(s19UserSeen, 2))); err != nil {
			t.Fatalf("ops on lenses composed through embedded structs: %v", err)
		}
		u, err := users.Get(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		if u.ID != "new" || u.Name != "ann" || u.S19Audit == nil || u.Seen != 2 {
			t.Fatalf("got %+v (audit %+v), want ID new, Name ann, Seen 2", u, u.S19Audit)
		}
		keys, err := b.Client.HKeys(ctx, b.Prefix+"user:{u1}").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k == "s19_base.id" || k == "s19_audit.seen" {
				t.Fatalf("stored %q: the fields of an embedded struct are promoted", k)
			}
		}
	})
}

// S19Clash embeds S19Base and also has a field stored under its name.
type S19Clash struct {
	S19Base
	Other string `redis:"s19_base"`
}

// TestALensToAnEmbeddedStructWhoseNameAFieldTakesIsRefused: the stored
// field wins the name, so such a lens could only reach the wrong field.
func TestALensToAnEmbeddedStructWhoseNameAFieldTakesIsRefused(t *testing.T) {
	_, err := lens.Make(func(c *S19Clash) *S19Base { return &c.S19Base })
	if !errors.Is(err, rapyer.ErrInvalid) {
		t.Fatalf("lens to a shadowed embedded struct: %v, want ErrInvalid", err)
	}
	if _, err := lens.Make(func(c *S19Clash) *string { return &c.ID }); err != nil {
		t.Fatalf("lens to a promoted field: %v", err)
	}
}

// TestAnEmbeddedStructIsNoIndexOrOrder: an index on the embedded struct
// itself is refused typed, not a panic.
func TestAnEmbeddedStructIsNoIndexOrOrder(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		_, err := rapyer.New[S19User](b.Client, rapyer.Options{Prefix: b.Prefix + "ix", Indexes: []index.Spec{index.On(s19UserBase)}})
		if !errors.Is(err, rapyer.ErrInvalid) && !errors.Is(err, rapyer.ErrUnsupported) {
			t.Fatalf("index.On(embedded struct): %v", err)
		}
		m := rapyer.MustNew[S19User](b.Client, rapyer.Options{Prefix: b.Prefix + "ix2", Indexes: []index.Spec{index.On(s19UserID)}})
		if err := m.Save(t.Context(), "u", S19User{S19Base: S19Base{ID: "x"}}); err != nil {
			t.Fatal(err)
		}
		n, err := m.Count(t.Context(), query.Where(is.Equal(s19UserID, "x")))
		if err != nil || n != 1 {
			t.Fatalf("Count over an index composed through an embedded struct: %d, %v", n, err)
		}
	})
}
