// Package lens gives typed paths into plain Go structs.
//
// A Field[S, A] points from a model type S to a value of type A stored inside
// it. It is built once, from an accessor that takes the address of the field:
//
//	type Account struct {
//		Owner   string
//		Balance int
//		Address Address
//	}
//
//	var (
//		Balance = lens.Of(func(a *Account) *int { return &a.Balance })
//		City    = lens.Of(func(a *Account) *string { return &a.Address.City })
//	)
//
// Of calls the accessor on a probe value, finds which field the returned
// address belongs to, and keeps that path; nothing is looked up by reflection
// afterwards. An accessor that does not return the address of a stored field
// (a local variable, an unexported field, a field skipped with redis:"-", an
// element of a slice) is refused: Of panics, Make returns an error wrapping
// rapyer.ErrInvalid. A model type with a field that cannot be stored is refused with
// an error that names the field.
//
// # What a lens knows
//
// Path is the stored dotted name of the field ("address.city"), the name the
// storage layer uses: a field of the model's root hash for scalars, the suffix
// of a key of its own for lists, maps and sets. Names come from a redis:"name"
// struct tag, or else from the Go name in snake case (CreatedAt -> created_at).
//
// # Pure get and set
//
// Get reads the field from a value, Set returns a copy of the value with the
// field replaced, Modify applies a function. They obey the lens laws, checked by
// fuzz tests: Get(Set(s, a)) == a, Set(s, Get(s)) == s, and
// Set(Set(s, a), b) == Set(s, b). Set never writes through a pointer it was
// given: a pointer to a struct on the path is copied (or allocated when nil).
//
// # Composition
//
// Compose chains Field[S, M] and Field[M, A] into Field[S, A], so lenses on a
// struct type can be reused wherever that struct is nested.
//
// Package lens talks to no server: the ops package builds operations on
// lenses, the tx package runs them.
package lens
