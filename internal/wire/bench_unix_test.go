//go:build unix

package wire

import (
	"testing"

	"github.com/handoff-go/handoff/internal/testutil"
)

func BenchmarkFiles1000(b *testing.B) {
	const n = 1000
	testutil.CheckLeaks(b)
	sender, receiver := connPair(b)
	entries, fds := makeEntries(n), makeFDs(b, n)
	b.ReportAllocs()
	for b.Loop() {
		sent := sendAsync(sender, entries, fds)
		_, got, err := receiver.RecvFiles()
		closeFDs(got)
		if serr := <-sent; serr != nil || err != nil {
			b.Fatalf("SendFiles: %v; RecvFiles: %v", serr, err)
		}
	}
}
