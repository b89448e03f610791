package data

// SetTableLimit lowers MaxTableBytes for a test and returns a function that
// restores it.
func SetTableLimit(n int64) (restore func()) {
	old := tableLimit
	tableLimit = n
	return func() { tableLimit = old }
}
