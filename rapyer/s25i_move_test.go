package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// s25iMoveCalls are the calls of an indexed Model that move a model
// stored before the type's first index on demand (move.go's moveAgain,
// moveFirst): a Get that misses it, a Save that replaces it, a Delete.
var s25iMoveCalls = map[string]func(ctx context.Context, m *rapyer.Model[s23bDoc]) error{
	"Get": func(ctx context.Context, m *rapyer.Model[s23bDoc]) error {
		_, err := m.Get(ctx, "a")
		return err
	},
	"Save": func(ctx context.Context, m *rapyer.Model[s23bDoc]) error {
		return m.Save(ctx, "a", s23bDoc{Age: 7, List: []string{"z"}})
	},
	"Delete": func(ctx context.Context, m *rapyer.Model[s23bDoc]) error {
		_, err := m.Delete(ctx, "a")
		return err
	},
}

// s25iIndexed is the indexed declaration of s23bDoc the moves go to.
func s25iIndexed(rdb redis.UniversalClient, prefix string) *rapyer.Model[s23bDoc] {
	return rapyer.MustNew[s23bDoc](rdb, rapyer.Options{Prefix: prefix, Indexes: s23bSpec, Groups: 2})
}

// An on-demand move whose copy is refused (a key of the wrong type at the
// new root) fails typed and leaves every key as it was: no claim of the
// model behind. Before, mvread's claim (<old root>:@moving, 10 s) stayed,
// and the next call on the model, once the key was repaired, waited for
// it to expire before it could move the model.
func TestS25iARefusedOnDemandMoveLeavesNoClaim(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for name, call := range s25iMoveCalls {
			prefix := b.Prefix + "s25imv" + name
			s23bMoveSetup(ctx, t, b.Client, prefix)
			m := s25iIndexed(b.Client, prefix)
			root, _ := m.Key("a")
			if err := b.Client.Set(ctx, root, "junk", 0).Err(); err != nil {
				t.Fatal(err)
			}
			before := s23bDump(ctx, t, b.Client, prefix)
			err := call(ctx, m)
			if !errors.Is(err, rapyer.ErrWrongType) {
				t.Fatalf("%s over a string at the new root: %v, want ErrWrongType", name, err)
			}
			if after := s23bDump(ctx, t, b.Client, prefix); after != before {
				t.Fatalf("%s failed (%v) yet wrote:\n%s\nwas\n%s", name, err, after, before)
			}
			if err := b.Client.Del(ctx, root).Err(); err != nil {
				t.Fatal(err)
			}
			// a new process (another token) moves it now, without a claim
			// to wait for: a Get with a deadline well under the claim's life
			short, cancel := context.WithTimeout(ctx, 5*time.Second)
			got, err := s25iIndexed(b.Client, prefix).Get(short, "a")
			cancel()
			if err != nil || !reflect.DeepEqual(got, s23bOne) {
				t.Fatalf("%s: the Get after the repair: %+v, %v", name, got, err)
			}
		}
	})
}

// A user of the least-privilege line denied one command a move sends gets
// ErrNoPermission from an on-demand move (a Get, Save or Delete of the
// indexed Model of a model stored before the first index), and every key
// of the prefix is as it was. Before, mvread wrote the model's claim
// before mvcopy's check refused the copy (RPUSH, SADD, PEXPIRE, ...), and
// before its own reads (TYPE, LRANGE, SMEMBERS) could be refused.
func TestS25iAnOnDemandMoveUnderDeniedCommands(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for i, deny := range append([]string{""}, s23bCommands...) {
			space := fmt.Sprintf("%ss25iacl%d", b.Prefix, i)
			rules := aclRules(t, leastPrivilege, space+"*")
			if deny != "" {
				rules = append(rules, "-"+deny)
			}
			app := b.NewUser(t, rules...)
			for name, call := range s25iMoveCalls {
				prefix := space + name
				s23bMoveSetup(ctx, t, b.Client, prefix)
				moved := s25iMovedDump(ctx, t, b.Client, prefix)
				before := s23bDump(ctx, t, b.Client, prefix)
				err := call(ctx, s25iIndexed(app, prefix))
				after := s23bDump(ctx, t, b.Client, prefix)
				what := fmt.Sprintf("%s denied %q", name, deny)
				switch {
				case deny == "" && (err != nil || after == before):
					t.Errorf("%s: %v, wrote something: %v (the case must write)", what, err, after != before)
				case err == nil:
				case !errors.Is(err, rapyer.ErrNoPermission):
					t.Errorf("%s: %v, want ErrNoPermission", what, err)
				case errors.Is(err, rapyer.ErrUnknownOutcome) && deny == "multi":
					// what followed the refused MULTI ran unqueued, unread
					// (TestS25mDeniedMultiIsTruthful): it may have written
				case after != before && s25iVersions.ReplaceAllString(after, "") != moved:
					t.Errorf("%s: failed (%v) yet wrote:\n%s\nwas\n%s", what, err, after, before)
				}
			}
		}
	})
}

// s25iVersions matches the versions in a dump (s23bDump), which differ
// between two stores of the same models.
var s25iVersions = regexp.MustCompile(`__v:[0-9]+`)

// s25iMovedDump is the dump of prefix (without its versions) once model a
// is moved, and nothing else done: the same models stored under another
// prefix and moved by the admin's Get. A call whose move completed and
// whose own batch was then refused (a user denied MULTI) leaves this: the
// model moved, its value and version as they were.
func s25iMovedDump(ctx context.Context, t *testing.T, rdb redis.UniversalClient, prefix string) string {
	t.Helper()
	ref := prefix + "ref"
	s23bMoveSetup(ctx, t, rdb, ref)
	if _, err := s25iIndexed(rdb, ref).Get(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	return s25iVersions.ReplaceAllString(strings.ReplaceAll(s23bDump(ctx, t, rdb, ref), ref, prefix), "")
}
