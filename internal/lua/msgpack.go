package lua

// The query script's results come as one MessagePack array (query.lua's
// Q.pack: cmsgpack on Redis, its Lua twin elsewhere) of texts, false or
// nil, and arrays of them. MsgNext and MsgSkip read it in place: a text is
// a substring of the reply, not a copy.

// Kinds of a MessagePack value (MsgNext).
const (
	MsgText  = iota // a text (str or bin)
	MsgNone         // nil or false: a value that is absent
	MsgArray        // an array: its elements follow its head
)

// MsgNext reads the head of the value at s[at:]: its kind, its text (a
// substring of s) or its array's length, and where what follows its head
// starts (for an array, its first element). ok is false for any other
// kind of value, or one cut short.
func MsgNext(s string, at int) (kind int, text string, n int, next int, ok bool) {
	if at >= len(s) {
		return 0, "", 0, at, false
	}
	b := s[at]
	at++
	switch {
	case b >= 0xa0 && b <= 0xbf:
		n = int(b & 0x1f)
	case b >= 0x90 && b <= 0x9f:
		return MsgArray, "", int(b & 0x0f), at, true
	case b == 0xc0 || b == 0xc2:
		return MsgNone, "", 0, at, true
	case b == 0xd9 || b == 0xc4:
		n, at, ok = msgLen(s, at, 1)
	case b == 0xda || b == 0xc5 || b == 0xdc:
		n, at, ok = msgLen(s, at, 2)
	case b == 0xdb || b == 0xc6 || b == 0xdd:
		n, at, ok = msgLen(s, at, 4)
	default:
		return 0, "", 0, at, false
	}
	if b >= 0xa0 && b <= 0xbf {
		ok = true
	}
	if !ok {
		return 0, "", 0, at, false
	}
	if b == 0xdc || b == 0xdd {
		return MsgArray, "", n, at, true
	}
	if n > len(s)-at {
		return 0, "", 0, at, false
	}
	return MsgText, s[at : at+n], n, at + n, true
}

// msgLen reads a big-endian length of w bytes at s[at:].
func msgLen(s string, at, w int) (int, int, bool) {
	if w > len(s)-at {
		return 0, at, false
	}
	n := 0
	for i := range w {
		n = n<<8 | int(s[at+i])
	}
	return n, at + w, true
}

// MsgSkip returns where the value at s[at:] ends, elements and all.
func MsgSkip(s string, at int) (int, bool) {
	kind, _, n, next, ok := MsgNext(s, at)
	if !ok {
		return at, false
	}
	if kind == MsgArray {
		for range n {
			if next, ok = MsgSkip(s, next); !ok {
				return at, false
			}
		}
	}
	return next, true
}
