package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// s23aCalls are the index administration calls and DeleteWhere: each is
// several requests, and each writes on the data of s23aSetup.
var s23aCalls = map[string]func(ctx context.Context, m *rapyer.Model[s22User]) error{}

func init() {
	for _, c := range s22Calls {
		switch c.name {
		case "Reindex", "DropIndex", "Sweep", "DeleteWhere":
			s23aCalls[c.name] = c.call
		}
	}
}

// s23aSetup is s22hSetup's data (three models, and x dead by its TTL with
// its entries left) with a key of a collection field T no longer has, of
// model a (Sweep deletes it before it clears x).
func s23aSetup(ctx context.Context, t *testing.T, rdb redis.UniversalClient, prefix string) {
	t.Helper()
	_, o := s22hSetup(ctx, t, rdb, prefix)
	if err := rdb.SAdd(ctx, o.Base(0)+":{a}:gone", "v").Err(); err != nil {
		t.Fatal(err)
	}
}

// A user of the least-privilege line denied one command that Reindex,
// DropIndex, Sweep or DeleteWhere send (each several requests, each of
// which writes here: checked with the user denied nothing) either succeeds
// or fails with ErrNoPermission and leaves every key of the prefix as it
// was, byte for byte: the dead model's traces, the @meta states, a stale
// collection key.
func TestS23aIndexAdminUnderDeniedCommands(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		denied := append([]string{""}, append(s22Commands, "hscan")...)
		for i, deny := range denied {
			space := fmt.Sprintf("%ss23a%d", b.Prefix, i)
			rules := aclRules(t, leastPrivilege, space+"*")
			if deny != "" {
				rules = append(rules, "-"+deny)
			}
			app := b.NewUser(t, rules...)
			for name, call := range s23aCalls {
				prefix := fmt.Sprintf("%s_%s", space, name)
				s23aSetup(ctx, t, b.Client, prefix)
				m := rapyer.MustNew[s22User](app, rapyer.Options{Prefix: prefix, Indexes: s22AppSpec, Groups: 1})
				before := s23bDump(ctx, t, b.Client, prefix)
				err := call(ctx, m)
				after := s23bDump(ctx, t, b.Client, prefix)
				what := fmt.Sprintf("%s denied %q", name, deny)
				switch {
				case deny == "" && (err != nil || after == before):
					t.Errorf("%s: %v, wrote something: %v (the case must write)", what, err, after != before)
				case err == nil:
				case !errors.Is(err, rapyer.ErrNoPermission):
					t.Errorf("%s: %v, want ErrNoPermission", what, err)
				case after != before:
					t.Errorf("%s: failed (%v) yet wrote:\n%s\nwas\n%s", what, err, after, before)
				}
			}
		}
	})
}
