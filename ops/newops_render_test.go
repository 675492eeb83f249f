package ops_test

import "github.com/rapyer-go/rapyer/ops"

// The rows of the render table (render_test.go) for the ops of issue #12
// item 8, kept here so that the table's file stays as it was.
func init() {
	type row = struct {
		op   ops.Op
		str  string
		cmds string
	}
	renders = append(renders,
		row{ops.Div(Ratio, 4), `Div(ratio, 4)`, "arith m:{1} ratio div float 0 1.7976931348623157e+308 4\n"},
		row{ops.IncrItem(Limits, "day", -2), `IncrItem(limits, "day", -2)`,
			"mincr m:{1} m:{1}:limits day int -2 -9223372036854775808 9223372036854775807\n"},
		row{ops.CreateIfMissing(Acct{Owner: "ann", Balance: 7}), `CreateIfMissing(Acct)`,
			"ensure m:{1} 0 owner ann balance 7 small 0 big 0 count 0 ratio 0 note \"\" blob \"\" when 0001-01-01T00:00:00Z flag false home.street \"\" home.city \"\"\n"},
	)
}
