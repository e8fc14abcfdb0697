package httpdrain

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// wrapHandler makes every response the drain can still influence carry
// "Connection: close", so that the http.Server closes each connection right
// after its current response, with the client expecting it (HTTP/2 turns it
// into a GOAWAY).
func (s *Server) wrapHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Not set up front: a 1xx response would carry it, and a handler
		// adding "Connection: Upgrade" for a 101 would end up with both.
		cw := &closeWriter{ResponseWriter: w, s: s, r: r}
		h.ServeHTTP(cw, r)
		if !cw.final && !cw.hijacked {
			// The server writes the headers of an empty response itself.
			cw.maybeClose()
		}
	})
}

// closeWriter adds "Connection: close" just before the final headers go out
// if a drain has started by then, which also covers requests that began
// before the drain. It forwards what net/http's own writer offers;
// http.ResponseController reaches the rest through Unwrap.
type closeWriter struct {
	http.ResponseWriter
	s        *Server
	r        *http.Request
	final    bool // final (non-1xx) headers are written
	hijacked bool
}

func (w *closeWriter) maybeClose() {
	if !w.s.draining.Load() {
		return
	}
	if w.r.ProtoMajor == 1 && w.r.TLS == nil {
		// Stays open when it can move to the next process once idle.
		if c, _ := w.r.Context().Value(connKey{}).(*conn); w.s.movingOn(c) {
			return
		}
	}
	w.ResponseWriter.Header().Set("Connection", "close")
}

// beforeFinal runs before anything that may write the final headers.
func (w *closeWriter) beforeFinal() {
	if !w.final {
		w.final = true
		w.maybeClose()
	}
}

func (w *closeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *closeWriter) WriteHeader(code int) {
	switch {
	case code == http.StatusSwitchingProtocols:
		// Its "Connection: Upgrade" must stand; the upgraded connection
		// is the handler's to drain (see Server.Track).
		w.final = true
	case code >= 200:
		w.beforeFinal()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *closeWriter) Write(p []byte) (int, error) {
	w.beforeFinal()
	return w.ResponseWriter.Write(p)
}

func (w *closeWriter) WriteString(str string) (int, error) {
	w.beforeFinal()
	return io.WriteString(w.ResponseWriter, str)
}

func (w *closeWriter) ReadFrom(r io.Reader) (int64, error) {
	w.beforeFinal()
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
}

// Flush implements http.Flusher; a flush writes the headers.
func (w *closeWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *closeWriter) FlushError() error {
	w.beforeFinal()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Push implements http.Pusher for HTTP/2 server push.
func (w *closeWriter) Push(target string, opts *http.PushOptions) error {
	if p, ok := w.ResponseWriter.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

// Hijack implements http.Hijacker. Drain waits for the connection until it
// is closed, or, after Server.Track, until done is called.
func (w *closeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}
