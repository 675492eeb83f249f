package codec

import (
	"fmt"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// AppendFields appends to names and values the root-hash fields that
// EmitModel sets for the value v points to (an m.Type of a model without
// collections), in EmitModel's order: what a Save's direct path (tx) sends
// instead of a program. Each value is boxed once, as a command's word.
func AppendFields(names []string, values []string, m *schema.Model, v unsafe.Pointer) ([]string, []string, error) {
	if len(m.Collections) > 0 {
		return names, values, fmt.Errorf("%w: %s has collections", errs.Invalid, m.Type)
	}
	return appendNodes(names, values, v, m.Top)
}

func appendNodes(names []string, values []string, v unsafe.Pointer, nodes []*schema.Node) ([]string, []string, error) {
	var err error
	for _, n := range nodes {
		p := n.At(v)
		if n.Ptr {
			if p = *(*unsafe.Pointer)(p); p == nil {
				continue
			}
		}
		switch n.Kind {
		case schema.Scalar:
			s, err := n.Value.EncodeAt(p)
			if err != nil {
				return names, values, errs.At(fmt.Sprintf("field %s", n.GoName), err)
			}
			names, values = append(names, n.Name), append(values, s)
		case schema.Struct:
			if n.Ptr {
				names, values = append(names, n.Name), append(values, MarkerValue)
			}
			if names, values, err = appendNodes(names, values, p, n.Children); err != nil {
				return names, values, err
			}
		default:
			return names, values, fmt.Errorf("%w: field %s is a collection", errs.Invalid, n.GoName)
		}
	}
	return names, values, nil
}
