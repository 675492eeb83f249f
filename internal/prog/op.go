package prog

// Op is an operation as the builder sees it: something that describes
// itself and compiles to instructions for a target. Package ops implements
// it; package tx compiles a batch by calling Compile on each op.
//
// Op is how package ops is sealed without a registration hook: ops.Op
// embeds this interface, and Compile's parameters are types of this
// internal package, which no package outside the module can name. So no
// outside package can implement ops.Op (it cannot write the method) or
// call Compile with a builder of its own (it cannot make one); only the
// constructors of package ops make ops, and tx, inside the module, runs
// them without reflection, without an init hook and without carrying ops
// as any.
type Op interface {
	// String describes the op: "Incr(balance, 10)".
	String() string
	// Compile emits the op's instructions into b for target t, or says
	// why it cannot run there.
	Compile(b *Builder, t Target) error
}
