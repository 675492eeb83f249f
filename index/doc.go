// Package index declares the indexes of a model type: which stored fields
// queries (package query) can find models by, kept in the same atomic step
// as every write that changes them.
//
//	var (
//		Email = lens.Of(func(u *User) *string { return &u.Email })
//		Age   = lens.Of(func(u *User) *int { return &u.Age })
//		Tags  = lens.Of(func(u *User) *map[string]struct{} { return &u.Tags })
//	)
//
//	users, err := rapyer.New[User](rdb, rapyer.Options{Indexes: []index.Spec{
//		index.Unique(Email), index.On(Age), index.Members(Tags),
//	}})
//
// On serves equality, ranges and order on a scalar field; Prefix prefixes
// of a string; Unique is On that refuses a second model with one value
// (rapyer.ErrDuplicate); Members the members of a set or the elements of a
// list. rapyer.New refuses a field that cannot be indexed (a struct, a map,
// JSON elements) with rapyer.ErrUnsupported naming it, and two indexes on
// one field with rapyer.ErrInvalid.
//
// A model type with an index is grouped: its models live in
// Options.Groups slot groups (16 by default), each group with its own index
// keys in its own cluster slot, so that a write and the change of its index
// entries are one script, and no one slot holds a whole type. See
// docs/queries.md and docs/storage.md.
package index
