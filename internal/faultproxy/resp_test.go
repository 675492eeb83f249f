package faultproxy

import (
	"strings"
	"testing"
)

var replies = []struct {
	name  string
	wire  string
	reply bool
}{
	{"simple string", "+OK\r\n", true},
	{"error", "-ERR wrong\r\n", true},
	{"integer", ":42\r\n", true},
	{"bulk", "$5\r\nhello\r\n", true},
	{"bulk with CRLF inside", "$4\r\n\r\n\r\n\r\n", true},
	{"empty bulk", "$0\r\n\r\n", true},
	{"null bulk", "$-1\r\n", true},
	{"null array", "*-1\r\n", true},
	{"empty array", "*0\r\n", true},
	{"nested array", "*2\r\n*2\r\n:1\r\n$1\r\na\r\n+QUEUED\r\n", true},
	{"EXEC reply", "*2\r\n:1\r\n:2\r\n", true},
	{"RESP3 null", "_\r\n", true},
	{"RESP3 double", ",3.14\r\n", true},
	{"RESP3 boolean", "#t\r\n", true},
	{"RESP3 big number", "(123456789012345678901234567890\r\n", true},
	{"RESP3 verbatim", "=15\r\ntxt:Some string\r\n", true},
	{"RESP3 blob error", "!21\r\nSYNTAX invalid syntax\r\n", true},
	{"RESP3 map", "%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n", true},
	{"RESP3 set", "~2\r\n:1\r\n:2\r\n", true},
	{"RESP3 attribute before a reply", "|1\r\n+ttl\r\n:3600\r\n$2\r\nok\r\n", true},
	{"RESP3 push", ">3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n", false},
}

func TestReplySizeFindsTheEndOfEveryType(t *testing.T) {
	for _, tc := range replies {
		t.Run(tc.name, func(t *testing.T) {
			// Followed by another value, so the size cannot be just len(b).
			b := []byte(tc.wire + "+NEXT\r\n")
			n, reply, err := replySize(b)
			if err != nil || n != len(tc.wire) || reply != tc.reply {
				t.Fatalf("replySize(%q) = %d, %v, %v; want %d, %v, nil", b, n, reply, err, len(tc.wire), tc.reply)
			}
			// Every strict prefix is incomplete, never an error or a size.
			for i := range len(tc.wire) {
				if n, _, err := replySize([]byte(tc.wire[:i])); n != 0 || err != nil {
					t.Fatalf("replySize of the prefix %q = %d, %v; want 0 (incomplete), nil", tc.wire[:i], n, err)
				}
			}
		})
	}
}

func TestRequestSize(t *testing.T) {
	for _, tc := range []struct {
		wire    string
		size    int
		command bool
	}{
		{"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n", 21, true},
		{"PING\r\n", 6, true},
		{"PING\n", 5, true},
		{"\r\n", 2, false},
		{"*1\r\n$4\r\nPI", 0, false},
		{"PIN", 0, false},
	} {
		n, command, err := requestSize([]byte(tc.wire))
		if err != nil || n != tc.size || command != tc.command {
			t.Errorf("requestSize(%q) = %d, %v, %v; want %d, %v, nil", tc.wire, n, command, err, tc.size, tc.command)
		}
	}
}

func TestMalformedRESPIsAnError(t *testing.T) {
	for _, wire := range []string{
		"?what\r\n",
		"$3\r\nabcd\r\n",           // bulk longer than announced
		"$-2\r\n",                  // negative length
		"$x\r\n",                   // not a number
		"$9223372036854775807\r\n", // would overflow
		"*2\r\n:1\r\n?\r\n",        // bad element
		strings.Repeat("*1\r\n", maxDepth+2) + ":1\r\n",
	} {
		if n, _, err := replySize([]byte(wire)); err == nil {
			t.Errorf("replySize(%q) = %d, nil; want an error", wire, n)
		}
	}
}

func FuzzReplySize(f *testing.F) {
	for _, tc := range replies {
		f.Add([]byte(tc.wire))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, _, err := replySize(b)
		if n < 0 || n > len(b) || (err != nil && n != 0) {
			t.Fatalf("replySize(%q) = %d, %v", b, n, err)
		}
		if n > 0 {
			// A complete value stays complete, and the same size, with more bytes after it.
			m, _, err := replySize(append(b[:n:n], "+X\r\n"...))
			if m != n || err != nil {
				t.Fatalf("replySize(%q) = %d, but %d, %v with a value appended", b, n, m, err)
			}
		}
	})
}
