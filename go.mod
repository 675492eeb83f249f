module github.com/rapyer-go/rapyer

go 1.26
