package reply

// Reading the reply of one HGETALL in place: go-redis's RawCmd hands over the
// reply's RESP bytes, and Hash walks its field names and values as
// substrings of those bytes, with no map and no string per value.

import (
	"errors"
	"unsafe"
)

// ServerError is an error reply read from raw RESP bytes, typed as go-redis
// types its own (it is a redis.Error), so that FromServer, IsWrongType,
// WrongType and Refused read it as they read go-redis's.
type ServerError string

// Error is the reply's text, without the leading '-', as go-redis prints it.
func (e ServerError) Error() string { return string(e) }

// RedisError marks ServerError as a redis.Error.
func (ServerError) RedisError() {}

// ErrNotHash is what Hash reports for a reply that is neither a hash's
// fields (a RESP2 array of an even length or a RESP3 map of bulk strings)
// nor an error reply.
var ErrNotHash = errors.New("redis: the reply is not a hash's fields")

// NotRead reports whether err, from ReadHash or Hash.Next, says that the
// reply was not a hash's fields: an error reply, or bytes of another form.
func NotRead(err error) bool {
	var e ServerError
	return errors.Is(err, ErrNotHash) || errors.As(err, &e)
}

// Hash reads the fields of one HGETALL reply, name and value in turn.
type Hash struct {
	s    string // the reply, sharing the bytes given to ReadHash
	at   int    // where the next name starts
	left int    // fields not read yet
}

// ReadHash starts reading raw, the RESP bytes of one HGETALL reply (RESP2
// or RESP3). The names and values Next gives are substrings of raw, which
// must never be written again. An error reply gives a ServerError; any
// other reply, ErrNotHash.
func ReadHash(raw []byte) (Hash, error) {
	s := unsafe.String(unsafe.SliceData(raw), len(raw))
	if len(s) < 3 {
		return Hash{}, ErrNotHash
	}
	n, at, ok := header(s, 0)
	switch s[0] {
	case '-':
		return Hash{}, ServerError(s[1:max(1, len(s)-2)])
	case '!':
		if ok && n <= len(s)-at {
			return Hash{}, ServerError(s[at : at+n])
		}
	case '*':
		if ok && n%2 == 0 {
			return Hash{s: s, at: at, left: n / 2}, nil
		}
	case '%':
		if ok {
			return Hash{s: s, at: at, left: n}, nil
		}
	}
	return Hash{}, ErrNotHash
}

// Len is how many fields are left to read.
func (h *Hash) Len() int { return h.left }

// Next gives the next field's name and value; ok is false once every field
// has been read. err is ErrNotHash when the bytes do not hold the fields
// the reply's head announced.
func (h *Hash) Next() (name, value string, ok bool, err error) {
	if h.left == 0 {
		return "", "", false, nil
	}
	if name, err = h.bulk(); err == nil {
		value, err = h.bulk()
	}
	if err != nil {
		h.left = 0
		return "", "", false, err
	}
	h.left--
	return name, value, true, nil
}

// bulk reads the bulk string at h.at. It parses the length itself rather
// than by header: a length is at most the reply's size (so it cannot
// overflow), and one bound check covers the head's CRLF, the string and
// its CRLF. This is most of the client's own work on a Get's reply.
func (h *Hash) bulk() (string, error) {
	s, i := h.s, h.at+1
	if i > len(s) || s[i-1] != '$' {
		return "", ErrNotHash
	}
	n, first := 0, i
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n = n*10 + int(s[i]-'0'); n > len(s) {
			return "", ErrNotHash
		}
	}
	at := i + 2 // where the string starts
	if i == first || at+n+2 > len(s) || s[i] != '\r' || s[i+1] != '\n' || s[at+n] != '\r' || s[at+n+1] != '\n' {
		return "", ErrNotHash
	}
	h.at = at + n + 2
	return s[at : at+n], nil
}

// header reads the length of the RESP header at s[from:] (its type byte,
// a decimal number, CRLF) and where what follows it starts.
func header(s string, from int) (n, next int, ok bool) {
	i := from + 1
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > (1<<31)/10 {
			return 0, 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	if i == from+1 || i+1 >= len(s) || s[i] != '\r' || s[i+1] != '\n' {
		return 0, 0, false
	}
	return n, i + 2, true
}
