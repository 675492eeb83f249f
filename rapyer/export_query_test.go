package rapyer

// SetReindexChunk sets how many models one call of Reindex syncs, for a
// test that stops a rebuild halfway; it returns the function that restores
// it.
func SetReindexChunk(n int) func() {
	old := reindexChunk
	reindexChunk = n
	return func() { reindexChunk = old }
}
