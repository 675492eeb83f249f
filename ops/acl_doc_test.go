package ops_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// documentedACLRules reads the one ACL SETUSER line of docs/operations.md
// (rapyer.TestOperationsDocHasTheTestedACLLine keeps it to one) and returns
// its rules for prefix: the words after "on" and the password.
func documentedACLRules(t *testing.T, prefix string) []string {
	t.Helper()
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(string(doc)) {
		if !strings.HasPrefix(l, "ACL SETUSER") {
			continue
		}
		words := strings.Fields(strings.ReplaceAll(l, "<prefix>", prefix))
		if len(words) < 5 || words[3] != "on" || !strings.HasPrefix(words[4], ">") {
			t.Fatalf("the ACL line does not read ACL SETUSER <name> on ><password> ...: %q", l)
		}
		return words[5:]
	}
	t.Fatal("docs/operations.md gives no ACL SETUSER line")
	return nil
}

// everyPredicate adds to renders the predicates of package is that no
// rendered op holds (each reads with a command of its own).
var everyPredicate = []ops.Op{
	ops.Require(is.AtMost(is.TextLen(Note), 280)),
	ops.Require(is.AtMost(is.TextLen(Blob), 280)),
	ops.Require(is.HasPrefix(Owner, "a")),
	ops.Check(is.Below(is.Len(Queue), 5)),
	ops.Check(is.AtLeast(is.Size(Limits), 1)),
}

// TestEveryOpRunsAsTheDocumentedUser runs every op of the rendering table
// (one op of every constructor of package ops) and every predicate of
// package is, each in a batch of its own on a full model, as a user made
// with the ACL line of docs/operations.md: the page promises that the line
// holds the commands of every op, not only of the paths
// rapyer.TestLeastPrivilegeUser runs. A refused command fails the batch with
// rapyer.ErrNoPermission naming it.
func TestEveryOpRunsAsTheDocumentedUser(t *testing.T) {
	realTiers(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		admin := newModel(t, b, 0)
		u := aclUser(t, b, documentedACLRules(t, admin.Prefix())...)
		m, err := rapyer.New[Acct](u, rapyer.Options{Prefix: admin.Prefix()})
		if err != nil {
			t.Fatal(err)
		}
		all := everyPredicate
		for _, r := range renders {
			all = append(all, r.op)
		}
		for i, op := range all {
			id := fmt.Sprint(i)
			save(t, admin, id, fullAcct())
			_, err := m.Exec(ctx, id, tx.Of(op))
			if err != nil && !errors.Is(err, rapyer.ErrPrecondition) {
				t.Errorf("%s as the documented user: %v", op, err)
			}
		}
	})
}

// fullAcct is a model with every field set and every collection non-empty,
// so that each op finds something to read and change.
func fullAcct() Acct {
	nick := "n"
	return Acct{
		Owner: "ann", Balance: 10, Small: 1, Big: 2, Count: 3, Ratio: 1.5,
		Note: "note", Blob: []byte("blob"), When: time.Unix(1, 0).UTC(), Flag: true, Nick: &nick,
		Home:    Address{Street: "Main", City: "Oslo"},
		History: []string{"a", "b", "q"}, Queue: []string{"x"},
		Items:  []Item{{SKU: "s", Qty: 1}},
		Limits: map[string]int{"a": 1, "day": 2, "k": 3}, Flags: set("x", "f"),
	}
}
