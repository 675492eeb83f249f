package reliability_test

import (
	"context"
	"iter"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
)

// ixField is one index of a model type as the oracle reads it: the stored
// name of its field, the kind IX.enc takes, the collection ("", "set",
// "list") and whether it is Unique.
type ixField struct {
	name   string
	kind   string
	coll   string
	unique bool
}

// ixOracle compares the index keys of every slot group of a model type
// with what the stored models give (internal/index describes the layout):
// for every model that exists, its id in @ids and @back, in @exp when its
// root has a TTL, and per index the server's encoding of each stored value
// followed by the id (and value -> id in @u for a Unique index); for a
// model that does not exist, nothing. The stored models are read raw (the
// root hash and the collections), the values encoded by the server's own
// IX.enc (the ixenc entry), so the oracle does not trust the library's
// reads. ids is every id the run may have written. It is
// internal/ixcheck's Oracle (oracle), which the other index tests use,
// with the figures of this package (check).
type ixOracle struct {
	c      redis.UniversalClient
	prefix string
	groups int
	fields []ixField
	ids    []string
}

// ixDefaultGroups is the number of slot groups of a type whose
// Options.Groups is 0.
const ixDefaultGroups = index.DefaultGroups

// ixDiff is what one comparison found: entries that should be there, and
// stale and missing ones.
type ixDiff = ixcheck.Diff

// check compares every group (ixcheck.Oracle.Compare), counts the
// comparison in the figures and fails t on any stale or missing entry.
func (o ixOracle) check(t fataler, step string) ixDiff {
	t.Helper()
	d, err := o.oracle().Compare(context.Background())
	if err != nil {
		t.Fatalf("%s: reading the index keys: %v", step, err)
	}
	figures.ixChecks.Add(1)
	figures.ixEntries.Add(int64(d.Entries))
	figures.ixStale.Add(int64(len(d.Stale)))
	figures.ixMissing.Add(int64(len(d.Missing)))
	if !d.OK() {
		t.Fatalf("%s: the index keys disagree with the stored models: %s", step, d)
	}
	return d
}

// oracle is o as the index tests' shared oracle: ids every id the run
// may have written (with those @back names).
func (o ixOracle) oracle() ixcheck.Oracle {
	fields := make([]index.Field, len(o.fields))
	for i, f := range o.fields {
		fields[i] = index.Field{Name: f.name, Kind: f.kind[0], Coll: f.coll, Use: index.UseOn}
		if f.unique {
			fields[i].Use = index.UseUnique
		}
		if f.coll != "" {
			fields[i].Use = index.UseMembers
		}
	}
	ids := func(context.Context) iter.Seq2[string, error] {
		return func(yield func(string, error) bool) {
			for _, id := range o.ids {
				if !yield(id, nil) {
					return
				}
			}
		}
	}
	return ixcheck.Of(o.c, o.prefix, o.groups, fields, ids)
}

// fataler is what check needs of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}
