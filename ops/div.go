package ops

import "github.com/rapyer-go/rapyer/lens"

// Div divides a float field by x on the server, as Python's / does, and
// yields the new value. It takes float fields only: true division of an
// integer field gives a float it could not hold, so Div on an int field
// does not compile (FloorDiv is the integer division). An absent field
// counts as 0. Division by zero fails the batch with rapyer.ErrInvalid, and a
// result that is not finite or leaves the field's type (a float32 past
// its largest value) with rapyer.ErrOverflow, in both cases before anything is
// written. Server cost: O(1), as for every arithmetic op.
func Div[S any, F Float](f lens.Field[S, F], x F) *Yield[F] {
	return arith("Div", "div", f, x, false)
}
