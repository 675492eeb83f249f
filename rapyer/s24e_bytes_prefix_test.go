package rapyer_test

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// S24eBlob has a []byte field under an index.Prefix.
type S24eBlob struct {
	Key []byte
}

var s24eKey = lens.Of(func(b *S24eBlob) *[]byte { return &b.Key })

// TestS24eBytesPrefixQuery: index.Prefix takes a []byte field, and
// is.HasPrefix on it answers through that index, and with Scan, the ids
// whose bytes start with the prefix, byte by byte (not UTF-8: 0xff, 0x00).
// Before session 24 is.HasPrefix took only string lenses, so the index
// could serve no query (this test did not compile).
func TestS24eBytesPrefixQuery(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, err := rapyer.New[S24eBlob](b.Client, rapyer.Options{Prefix: b.Prefix + "blob", Groups: 2,
			Indexes: []index.Spec{index.Prefix(s24eKey)}})
		if err != nil {
			t.Fatal(err)
		}
		keys := [][]byte{{0xff, 'a'}, {0xff, 'a', 0}, {0xff}, {0xfe, 'a'}, {'a'}, {}, {0xff, 'a', 0xff}, {0, 1}}
		for i, k := range keys {
			if err := m.Save(ctx, "b"+strconv.Itoa(i), S24eBlob{Key: k}); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range [][]byte{{0xff, 'a'}, {0xff}, {}, {0}, {0xff, 'a', 0}, {'b'}} {
			var want []string
			for i, k := range keys {
				if bytes.HasPrefix(k, p) {
					want = append(want, "b"+strconv.Itoa(i))
				}
			}
			slices.Sort(want)
			for _, q := range []query.Query[S24eBlob]{
				query.Where(is.HasPrefix(s24eKey, p)),
				query.Where(is.HasPrefix(s24eKey, p)).Scan(),
			} {
				var got []string
				for id, err := range m.FindIDs(ctx, q) {
					if err != nil {
						t.Fatalf("%s: %v", q, err)
					}
					got = append(got, id)
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("%s: ids %q, want %q", q, got, want)
				}
			}
		}
	})
}
