package rapyer

import (
	"fmt"

	"github.com/rapyer-go/rapyer/internal/errs"
	ix "github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// resolveIndexes checks Options.Indexes and Options.Groups against the
// model's type and returns the resolved set, nil for a type without
// indexes. It sets opts.Groups to the groups the type has.
func resolveIndexes(sm *schema.Model, opts *Options) (*ix.Set, error) {
	if opts.Groups < 0 || opts.Groups > ix.MaxGroups {
		return nil, fmt.Errorf("%w: Options.Groups: %d; give 1 to %d, or 0 for %d", errs.Invalid, opts.Groups, ix.MaxGroups, ix.DefaultGroups)
	}
	if len(opts.Indexes) == 0 {
		if opts.Groups != 0 {
			return nil, fmt.Errorf("%w: Options.Groups: %d slot groups for a type without indexes; groups are for indexed types", errs.Invalid, opts.Groups)
		}
		return nil, nil
	}
	decls := make([]ix.Decl, len(opts.Indexes))
	for i, s := range opts.Indexes {
		d, ok := ix.Unwrap(s)
		if !ok {
			return nil, fmt.Errorf("%w: Options.Indexes[%d] is nil; make indexes with index.On, Prefix, Unique or Members", errs.Invalid, i)
		}
		decls[i] = d
	}
	fields, err := ix.Resolve(sm, decls)
	if err != nil {
		return nil, err
	}
	unique := false
	for _, f := range fields {
		unique = unique || f.Use == ix.UseUnique
	}
	switch {
	case unique && opts.HashTag != nil:
		return nil, fmt.Errorf("%w: Options.Indexes: a Unique index needs every model of the type in one slot group, which Options.HashTag spreads over its tags", errs.Invalid)
	case unique && opts.Groups > 1:
		return nil, fmt.Errorf("%w: Options.Groups: %d; a type with a Unique index has one slot group, so that a duplicate is refused in the step of the write", errs.Invalid, opts.Groups)
	case opts.HashTag != nil && opts.Groups != 0:
		return nil, fmt.Errorf("%w: Options.Groups with Options.HashTag: the tags are the groups", errs.Invalid)
	case unique:
		opts.Groups = 1
	case opts.Groups == 0 && opts.HashTag == nil:
		opts.Groups = ix.DefaultGroups
	}
	return ix.NewSet(opts.Prefix, fields, opts.Groups, opts.HashTag), nil
}
