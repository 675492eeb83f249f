package faultproxy

import (
	"bytes"
	"errors"
	"strconv"
)

// The proxy parses RESP (2 and 3) only far enough to find where one value
// ends. A size of 0 with a nil error means "incomplete, read more".

var errProtocol = errors.New("faultproxy: cannot parse RESP")

// maxDepth bounds the nesting of aggregates the parser follows.
const maxDepth = 64

// requestSize returns the size of the first request in b and whether it is a
// command (a blank inline line is not: the server ignores it).
func requestSize(b []byte) (size int, command bool, err error) {
	if len(b) == 0 {
		return 0, false, nil
	}
	if b[0] == '*' {
		n, err := valueSize(b, 0)
		return n, n > 0, err
	}
	// An inline command: one line.
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return 0, false, nil
	}
	return i + 1, len(bytes.TrimSpace(b[:i])) > 0, nil
}

// replySize returns the size of the first server message in b and whether it
// is a reply to a request; a RESP3 push ('>') is not. An attribute ('|') is
// part of the reply that follows it.
func replySize(b []byte) (size int, reply bool, err error) {
	if len(b) == 0 {
		return 0, false, nil
	}
	switch b[0] {
	case '>':
		n, err := valueSize(b, 0)
		return n, false, err
	case '|':
		attr, err := valueSize(b, 0)
		if attr == 0 || err != nil {
			return 0, false, err
		}
		n, reply, err := replySize(b[attr:])
		if n == 0 || err != nil {
			return 0, false, err
		}
		return attr + n, reply, nil
	}
	n, err := valueSize(b, 0)
	return n, n > 0, err
}

// valueSize returns the size of the RESP value at the start of b.
func valueSize(b []byte, depth int) (int, error) {
	if depth > maxDepth {
		return 0, errProtocol
	}
	if len(b) == 0 {
		return 0, nil
	}
	end := bytes.Index(b, []byte("\r\n"))
	switch {
	case end < 0:
		return 0, nil
	case end == 0:
		return 0, errProtocol // no type byte
	}
	head, pos := b[1:end], end+2
	switch b[0] {
	case '+', '-', ':', ',', '(', '#', '_':
		return pos, nil
	case '$', '!', '=':
		n, err := length(head)
		if err != nil {
			return 0, err
		}
		if n < 0 {
			return pos, nil // $-1: the RESP2 null bulk
		}
		if len(b) < pos+n+2 {
			return 0, nil
		}
		if b[pos+n] != '\r' || b[pos+n+1] != '\n' {
			return 0, errProtocol
		}
		return pos + n + 2, nil
	case '*', '~', '>', '%', '|':
		n, err := length(head)
		if err != nil {
			return 0, err
		}
		if n < 0 {
			return pos, nil // *-1: the RESP2 null array
		}
		if b[0] == '%' || b[0] == '|' {
			n *= 2
		}
		for range n {
			m, err := valueSize(b[pos:], depth+1)
			if m == 0 || err != nil {
				return 0, err
			}
			pos += m
		}
		return pos, nil
	}
	return 0, errProtocol
}

// maxLength bounds a bulk length or aggregate count (Redis's own limit on a
// bulk is 512MB), which keeps the arithmetic on them from overflowing.
const maxLength = 1 << 30

// length parses the length of a bulk or aggregate: a number, at least -1.
func length(head []byte) (int, error) {
	n, err := strconv.Atoi(string(head))
	if err != nil || n < -1 || n > maxLength {
		return 0, errProtocol
	}
	return n, nil
}
