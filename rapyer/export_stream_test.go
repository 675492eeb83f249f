package rapyer

// SetStreamPage sets how many results Find and FindIDs read from each group
// a round, for a test that streams over many rounds; it returns the
// function that restores it.
func SetStreamPage(n int) func() {
	old := streamPage
	streamPage = n
	return func() { streamPage = old }
}
