package harness

import "strings"

// H3ClientCutOnGoAway recognises quic-go's HTTP/3 client (v0.65.0) closing
// its own connection with H3_NO_ERROR on the server's GOAWAY while a
// request stream it had just opened was not yet counted as active
// (ClientConn.handleControlStream checks hasActiveStreams before
// openRequestStream's TrackStream). No packet of the server's is lost: the
// client cuts its own request, and its Transport does not retry it as it
// does a rejected one. A browser or curl retries; the tests and the bench
// send their idempotent GETs once more, and count it.
func H3ClientCutOnGoAway(err error) bool {
	return err != nil && strings.Contains(err.Error(), "H3_NO_ERROR (local)")
}
