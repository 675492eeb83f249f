package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// s22Held asserts the aftermath of a refused claim of the empty e-mail:
// err is an ErrDuplicate, owner still owns "" (its claim), not is
// missing, and a query for "" finds owner alone.
func s22Held(t *testing.T, b *testenv.Backend, m *rapyer.Model[ixMember], what string, err error, owner, not string) {
	t.Helper()
	ctx := context.Background()
	if !errors.Is(err, rapyer.ErrDuplicate) {
		t.Fatalf("%s: %v, want ErrDuplicate", what, err)
	}
	if ok, err := m.Exists(ctx, not); err != nil || ok {
		t.Fatalf("%s: %s exists (%v) after the refused write", what, not, err)
	}
	base := fmt.Sprintf("%s:{%s#0}", m.Prefix(), m.Prefix())
	if got, err := b.Client.HGet(ctx, base+":@u:email", "\x00\x01").Result(); err != nil || got != owner {
		t.Fatalf("%s: the claim of \"\" is %q (%v), want %q", what, got, err, owner)
	}
	var ids []string
	for id, err := range m.FindIDs(ctx, query.Where(is.Equal(mbEmail, ""))) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if len(ids) != 1 || ids[0] != owner {
		t.Fatalf("%s: the models with the empty e-mail are %q, want only %s", what, ids, owner)
	}
}

// TestABatchThatCreatesAModelWithoutAUniqueFieldChecksItsZero: a model a
// batch creates without setting the field of a Unique index (ops on a
// new model, tx.MustBeNew; a Delete and a write of it again in one
// batch) holds the field's zero, as Get reads it, and claims it: the
// batch fails with ErrDuplicate when another model holds the zero, and
// writes nothing; two such models in one batch are refused too. Before,
// the claim of the zero was written with no check, over the other
// model's: two models held "" and a query for "" found both.
func TestABatchThatCreatesAModelWithoutAUniqueFieldChecksItsZero(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, o := ixMembers(t, b, rapyer.Options{})
		if err := m.Save(ctx, "ann", ixMember{Score: 1}); err != nil {
			t.Fatal(err)
		}
		if err := m.Save(ctx, "bob", ixMember{Email: "bob@x"}); err != nil {
			t.Fatal(err)
		}
		isNew := func(c *rapyer.Call) { c.Exec.IfMissing = tx.MustBeNew }
		_, err := m.Exec(ctx, "cat", tx.Of(ops.Incr(mbScore, 1.0)), isNew)
		s22Held(t, b, m, "a new model without an e-mail", err, "ann", "cat")
		_, err = m.Exec(ctx, "cat", tx.Of(ops.Append(mbTags, "t")), isNew)
		s22Held(t, b, m, "a new model with a list only", err, "ann", "cat")
		_, err = m.Exec(ctx, "bob", tx.Of(ops.Delete[ixMember](), ops.Incr(mbScore, 1.0)))
		s22Held(t, b, m, "a model deleted and written again", err, "ann", "cat")
		if v, err := m.Get(ctx, "bob"); err != nil || v.Email != "bob@x" {
			t.Fatalf("bob after the refused batch: %+v, %v", v, err)
		}
		o.Check(t, "refused")
		// without the owner of "", one new model takes it; two in one batch do not
		if _, err := m.Delete(ctx, "ann"); err != nil {
			t.Fatal(err)
		}
		two := tx.Join(tx.On(m.Target("cat"), ops.Incr(mbScore, 1.0)), tx.On(m.Target("dan"), ops.Incr(mbScore, 1.0)))
		_, err = tx.Exec(ctx, b.Client, two, tx.Options{IfMissing: tx.MustBeNew})
		if !errors.Is(err, rapyer.ErrDuplicate) {
			t.Fatalf("two new models without an e-mail in one batch: %v", err)
		}
		if _, err := m.Exec(ctx, "cat", tx.Of(ops.Incr(mbScore, 1.0)), isNew); err != nil {
			t.Fatalf("a new model without an e-mail, \"\" free: %v", err)
		}
		_, err = m.Exec(ctx, "dan", tx.Of(ops.Incr(mbScore, 1.0)), isNew)
		s22Held(t, b, m, "a second one", err, "cat", "dan")
		o.Check(t, "taken")
	})
}

// s22Coded is s22Plain with a Unique e-mail, s22Uncoded the same type
// before the e-mail was added.
type (
	s22Coded struct {
		N     int
		Email string
	}
	s22Uncoded struct{ N int }
)

// TestAModelStoredBeforeItsUniqueFieldClaimsItsZeroOnlyWhenFree: models
// stored by the type before the field of a Unique index was added lack
// the field and hold its zero. Reindex refuses two of them as it refuses
// explicit duplicates; a write that touches their entries (Expire) claims
// the zero, and fails with ErrDuplicate when another of them holds it,
// writing nothing. Before, the second took the first one's claim.
func TestAModelStoredBeforeItsUniqueFieldClaimsItsZeroOnlyWhenFree(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		p := b.Prefix + "s22old"
		n := lens.Of(func(u *s22Uncoded) *int { return &u.N })
		email := lens.Of(func(c *s22Coded) *string { return &c.Email })
		old := rapyer.MustNew[s22Uncoded](b.Client, rapyer.Options{Prefix: p, Groups: 1, Indexes: []index.Spec{index.On(n)}})
		for i, id := range []string{"ann", "cat"} {
			if err := old.Save(ctx, id, s22Uncoded{N: i}); err != nil {
				t.Fatal(err)
			}
		}
		opts := rapyer.Options{Prefix: p, Indexes: []index.Spec{index.Unique(email)}}
		m := rapyer.MustNew[s22Coded](b.NewClient(t, nil), opts)
		s21Dup(t, "Reindex over two models without the field", m.Reindex(ctx, nil), "ann and cat")
		if err := m.Expire(ctx, "ann", time.Hour); err != nil {
			t.Fatal(err)
		}
		err := m.Expire(ctx, "cat", time.Hour)
		if !errors.Is(err, rapyer.ErrDuplicate) {
			t.Fatalf("Expire of a model without the field while ann holds \"\": %v", err)
		}
		if d, err := m.TTL(ctx, "cat"); err != nil || d >= 0 {
			t.Fatalf("cat's TTL after the refused Expire: %v, %v", d, err)
		}
		base := fmt.Sprintf("%s:{%s#0}", p, p)
		if got, err := b.Client.HGet(ctx, base+":@u:email", "\x00\x01").Result(); err != nil || got != "ann" {
			t.Fatalf("the claim of \"\": %q, %v", got, err)
		}
		if err := m.Save(ctx, "ann", s22Coded{Email: "a@x"}); err != nil {
			t.Fatal(err)
		}
		if err := m.Reindex(ctx, nil); err != nil {
			t.Fatalf("Reindex with one model without the field: %v", err)
		}
		if err := m.Expire(ctx, "cat", time.Hour); err != nil {
			t.Fatalf("Expire with \"\" cat's: %v", err)
		}
		s21Dup(t, "an explicit \"\" beside cat's zero", m.Save(ctx, "dan", s22Coded{}), "belongs to cat")
		ixcheck.MustNew[s22Coded](t, b.Client, p, 1, opts.Indexes, m.IDs).Check(t, "old")
	})
}
