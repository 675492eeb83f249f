package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/rapyer"
)

type ixUser struct {
	Email string
	Age   int
	Tags  map[string]struct{}
}

var (
	ixEmail = lens.Of(func(u *ixUser) *string { return &u.Email })
	ixAge   = lens.Of(func(u *ixUser) *int { return &u.Age })
	ixTags  = lens.Of(func(u *ixUser) *map[string]struct{} { return &u.Tags })
)

func TestIndexSmoke(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, err := rapyer.New[ixUser](b.Client, rapyer.Options{Prefix: b.Prefix + "u", Indexes: []index.Spec{index.Unique(ixEmail), index.On(ixAge), index.Members(ixTags)}})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Save(ctx, "a", ixUser{Email: "a@x", Age: 3, Tags: map[string]struct{}{"x": {}}}); err != nil {
			t.Fatal(err)
		}
		err = m.Save(ctx, "b", ixUser{Email: "a@x", Age: 4})
		if !errors.Is(err, rapyer.ErrDuplicate) || !errors.Is(err, rapyer.ErrPrecondition) {
			t.Fatalf("dup: %v", err)
		}
		base := b.Prefix + "u:{" + b.Prefix + "u#0}"
		for _, k := range []string{":@ids", ":@i:email", ":@i:age", ":@i:tags"} {
			t.Logf("%s %q", k, b.Client.ZRange(ctx, base+k, 0, -1).Val())
		}
		t.Log(b.Client.HGetAll(ctx, base+":@back").Val(), b.Client.HGetAll(ctx, base+":@u:email").Val())
		if _, err := m.Delete(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{":@ids", ":@i:email", ":@i:age", ":@i:tags", ":@back", ":@u:email"} {
			if n := b.Client.Exists(ctx, base+k).Val(); n != 0 {
				t.Errorf("%s left", k)
			}
		}
	})
}

type ixOther struct{ Email string }

type ixBad struct {
	Email string
	Addr  struct{ City string }
	Meta  map[string]int
	Items []Item
	Ptr   *int
	Score float64
	Seen  time.Time
}

// TestIndexDeclarations: New refuses what cannot be indexed, naming the
// field, and options that cannot hold.
func TestIndexDeclarations(t *testing.T) {
	b := testenv.On(t, testenv.Mini)
	var (
		email = lens.Of(func(u *ixBad) *string { return &u.Email })
		addr  = lens.Of(func(u *ixBad) *struct{ City string } { return &u.Addr })
		meta  = lens.Of(func(u *ixBad) *map[string]int { return &u.Meta })
		items = lens.Of(func(u *ixBad) *[]Item { return &u.Items })
		ptr   = lens.Of(func(u *ixBad) **int { return &u.Ptr })
		score = lens.Of(func(u *ixBad) *float64 { return &u.Score })
		seen  = lens.Of(func(u *ixBad) *time.Time { return &u.Seen })
		other = lens.Of(func(u *ixOther) *string { return &u.Email })
	)
	for i, c := range []struct {
		opts rapyer.Options
		want error
		text string
	}{
		{rapyer.Options{Indexes: []index.Spec{index.On(other)}}, rapyer.ErrUnsupported, "not of the model's type"},
		{rapyer.Options{Indexes: []index.Spec{index.On(addr)}}, rapyer.ErrUnsupported, "Addr cannot be indexed"},
		{rapyer.Options{Indexes: []index.Spec{index.On(meta)}}, rapyer.ErrUnsupported, "Meta cannot be indexed"},
		{rapyer.Options{Indexes: []index.Spec{index.Members(meta)}}, rapyer.ErrUnsupported, "Meta cannot be indexed"},
		{rapyer.Options{Indexes: []index.Spec{index.Members(items)}}, rapyer.ErrUnsupported, "Items cannot be indexed"},
		{rapyer.Options{Indexes: []index.Spec{index.Members(email)}}, rapyer.ErrUnsupported, "Email cannot be indexed"},
		{rapyer.Options{Indexes: []index.Spec{index.Prefix(score)}}, rapyer.ErrUnsupported, "Prefix takes a string"},
		{rapyer.Options{Indexes: []index.Spec{index.On(email), index.Unique(email)}}, rapyer.ErrInvalid, "index one field"},
		{rapyer.Options{Indexes: []index.Spec{index.Unique(email)}, Groups: 4}, rapyer.ErrInvalid, "Unique"},
		{rapyer.Options{Indexes: []index.Spec{index.Unique(email)}, HashTag: func(string) string { return "t" }}, rapyer.ErrInvalid, "Unique"},
		{rapyer.Options{Indexes: []index.Spec{nil}}, rapyer.ErrInvalid, "nil"},
		{rapyer.Options{Groups: 4}, rapyer.ErrInvalid, "without indexes"},
		{rapyer.Options{Indexes: []index.Spec{index.On(score)}, Groups: -1}, rapyer.ErrInvalid, "Groups"},
		{rapyer.Options{Indexes: []index.Spec{index.On(lens.Field[ixBad, int]{})}}, rapyer.ErrInvalid, "invalid lens"},
	} {
		c.opts.Prefix = fmt.Sprintf("%sbad%d", b.Prefix, i)
		_, err := rapyer.New[ixBad](b.Client, c.opts)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%d: %v: got %v, want %v with %q", i, c.opts.Indexes, err, c.want, c.text)
		}
	}
	// what can be indexed
	m, err := rapyer.New[ixBad](b.Client, rapyer.Options{Prefix: b.Prefix + "good", Indexes: []index.Spec{index.Prefix(email), index.On(ptr), index.On(score), index.On(seen)}})
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := m.Key("x"); k != b.Prefix+"good:{"+b.Prefix+"good#"+fmt.Sprint(ixGroup("x", 16))+"}:{x}" {
		t.Fatalf("key %q", k)
	}
	if s := fmt.Sprint(index.Unique(email)); s != "index.Unique(ixBad.email)" {
		t.Fatalf("prints %q", s)
	}
}

func ixGroup(id string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// TestIndexesWithAHashTag: with Options.HashTag the user's tag is the
// group: each tag has its own index keys, in the slot of its models.
func TestIndexesWithAHashTag(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "ht"
		m, err := rapyer.New[ixUser](b.Client, rapyer.Options{Prefix: prefix, HashTag: func(id string) string { return "shop" + id[:1] },
			Indexes: []index.Spec{index.On(ixAge), index.Members(ixTags)}})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"1a", "1b", "2a"} {
			if err := m.Save(ctx, id, ixUser{Age: len(id), Tags: map[string]struct{}{id: {}}}); err != nil {
				t.Fatal(err)
			}
		}
		// two models of one tag in one batch
		if err := m.SaveMany(ctx, []rapyer.Entry[ixUser]{{ID: "1c", Value: ixUser{Age: 5}}, {ID: "1d", Value: ixUser{Age: 6}}}); err != nil {
			t.Fatal(err)
		}
		for tag, want := range map[string][]string{"shop1": {"1a", "1b", "1c", "1d"}, "shop2": {"2a"}} {
			got := b.Client.ZRange(ctx, prefix+":{"+tag+"}:@ids", 0, -1).Val()
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s: @ids %q, want %q", tag, got, want)
			}
			if n := b.Client.ZCard(ctx, prefix+":{"+tag+"}:@i:age").Val(); int(n) != len(want) {
				t.Errorf("%s: %d age entries, want %d", tag, n, len(want))
			}
		}
	})
}
