package prog

import (
	"strings"
	"testing"
	"time"
)

// TestRefreshTTL: the refresh sets the model's lifetime unless an op of the
// program set it before; it looks at the model it is bound to only.
func TestRefreshTTL(t *testing.T) {
	at := accountTarget(t, "account:{ada}")
	bt := accountTarget(t, "account:{ada}:bob")
	decl := func(p *Program) string { return strings.Join(texts(p.Argv[9:11]), " ") } // ttlmode ttlms
	for _, c := range []struct {
		name  string
		build func(b *Builder)
		want  string // the lifetime in the declaration of the first model
	}{
		{"alone", func(b *Builder) {}, "set 3600000"},
		{"after a Persist", func(b *Builder) { b.Lifetime(at.Root, Persist, 0) }, "persist 0"},
		{"after an Expire", func(b *Builder) { b.Lifetime(at.Root, SetTTL, 60000) }, "set 60000"},
		{"after an Expire of another model", func(b *Builder) {
			b.Declare(bt, Need)
			b.Lifetime(bt.Root, SetTTL, 60000)
		}, "set 3600000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := NewBuilder()
			b.Declare(at, Need)
			c.build(b)
			if b.SetsTTL(at.Root) != (c.name == "after a Persist" || c.name == "after an Expire") {
				t.Fatalf("SetsTTL = %v", b.SetsTTL(at.Root))
			}
			if err := RefreshTTL(time.Hour).Compile(b, at); err != nil {
				t.Fatal(err)
			}
			if got := decl(b.Build(Header{})); got != c.want {
				t.Fatalf("declaration %q; want %q", got, c.want)
			}
		})
	}
}

func texts(ws []any) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = text(w)
	}
	return out
}
