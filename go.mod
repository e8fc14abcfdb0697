module github.com/handoff-go/handoff

go 1.26.0

require (
	github.com/cloudflare/tableflip v1.2.3
	golang.org/x/sys v0.49.0
)
