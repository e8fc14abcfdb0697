package httpdrain

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestConnectionCloseHeader(t *testing.T) {
	tests := []struct {
		name     string
		draining bool
		handler  func(http.ResponseWriter)
		want     string // Connection header of the final response
	}{
		{name: "write", draining: true, want: "close",
			handler: func(w http.ResponseWriter) { io.WriteString(w, "x") }},
		{name: "write header", draining: true, want: "close",
			handler: func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }},
		{name: "read from", draining: true, want: "close",
			handler: func(w http.ResponseWriter) { w.(io.ReaderFrom).ReadFrom(http.NoBody) }},
		{name: "empty", draining: true, want: "close",
			handler: func(http.ResponseWriter) {}},
		{name: "switching protocols", draining: true, want: "Upgrade",
			handler: func(w http.ResponseWriter) {
				w.Header().Add("Connection", "Upgrade")
				w.WriteHeader(http.StatusSwitchingProtocols)
			}},
		{name: "not draining", draining: false, want: "",
			handler: func(w http.ResponseWriter) { io.WriteString(w, "x") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(&http.Server{}, Options{})
			s.draining.Store(tt.draining)
			h := s.wrapHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tt.handler(w) }))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if got := rec.Result().Header.Values("Connection"); len(got) > 1 || rec.Result().Header.Get("Connection") != tt.want {
				t.Errorf("Connection = %q; want %q", got, tt.want)
			}
		})
	}
}
