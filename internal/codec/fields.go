package codec

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
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

// AppendDiff appends to pairs the root-hash fields and values, in turn,
// that EmitDiff sets for the change from the value before points to into
// the one after points to (both m.Type, of a model without collections),
// and to dels the fields it removes: EmitDiff emits an HDEL of dels (when
// there are any), then an HSET of pairs (when there are any), and nothing
// else. direct is false, with no error, for a change EmitDiff emits more
// for (a pointer to a struct that became nil): what a model Lock save's
// direct path (tx) sends instead of a program.
func AppendDiff(pairs, dels []string, m *schema.Model, before, after unsafe.Pointer) (p, d []string, direct bool, err error) {
	if len(m.Collections) > 0 {
		return pairs, dels, false, nil
	}
	w := writer{t: prog.Target{Model: m}, pairs: pairs[:len(pairs):cap(pairs)]}
	d, err = w.diff(before, after, m.Top, dels)
	if err == errNotDirect {
		return pairs, dels, false, nil
	}
	if err != nil {
		return pairs, dels, false, err
	}
	return w.pairs, d, true, nil
}

// errNotDirect stops a writer without a builder (AppendDiff) at a change
// it cannot write as fields.
var errNotDirect = errors.New("codec: not a change of fields")
