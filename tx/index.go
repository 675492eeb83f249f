package tx

import "github.com/rapyer-go/rapyer/internal/index"

// A Target of an indexed model type carries its place in the type's
// indexes (rapyer.Model.Target sets it, through index.WithIndex): every
// batch on it keeps them in the same step.
func init() {
	index.WithIndex = func(t any, x *index.Target) any {
		tt := t.(Target)
		tt.t.Index = x
		return tt
	}
}
