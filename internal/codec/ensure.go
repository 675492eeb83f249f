package codec

import (
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/prog"
)

// RootFields encodes the root hash of the model v points to (a
// t.Model.Type) as field, value, field, value..., as Save writes it, and
// reports whether any of its collections holds elements (which RootFields
// does not encode).
func RootFields(t prog.Target, v unsafe.Pointer) (pairs []string, collections bool, err error) {
	w := newWriter(nil, t, len(t.Model.Scalars)+len(t.Model.Markers))
	if err := w.fields(v, t.Model.Top); err != nil {
		return nil, false, err
	}
	return w.pairs, len(w.cols) > 0, nil
}
