package reply

import (
	"fmt"
	"strconv"
)

// Write appends v, a reply as go-redis parses it (an integer, a string,
// nil, an error or a slice of these), to b as RESP2 bytes, which ReadHash
// and the readers of raw replies read: for a raw reply that had to be
// fetched again the parsed way (script.Func.RunRaw, a cluster's
// redirection).
func Write(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "*-1\r\n"...)
	case int64:
		return append(strconv.AppendInt(append(b, ':'), v, 10), "\r\n"...)
	case string:
		b = strconv.AppendInt(append(b, '$'), int64(len(v)), 10)
		return append(append(append(b, "\r\n"...), v...), "\r\n"...)
	case []any:
		b = append(strconv.AppendInt(append(b, '*'), int64(len(v)), 10), "\r\n"...)
		for _, e := range v {
			b = Write(b, e)
		}
		return b
	case error:
		return append(append(append(b, '-'), v.Error()...), "\r\n"...)
	}
	return Write(b, fmt.Sprint(v))
}
