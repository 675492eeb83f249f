package testenv

// SharedServer exposes the shared server to the tests of this package.
func SharedServer() *ServerProc {
	s, err := sharedServer()
	if err != nil {
		panic(err)
	}
	return s
}
