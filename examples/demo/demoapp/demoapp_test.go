package demoapp

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		name, target, id string
		wantStatus       int
		wantPID          bool
	}{
		{name: "root echoes X-Id", target: "/", id: "7-3", wantStatus: http.StatusOK, wantPID: true},
		{name: "slow", target: "/slow?ms=1", wantStatus: http.StatusOK, wantPID: true},
		{name: "slow out of bounds", target: "/slow?ms=-1", wantStatus: http.StatusBadRequest},
		{name: "other paths", target: "/x", wantStatus: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.target, nil)
			if tt.id != "" {
				req.Header.Set("X-Id", tt.id)
			}
			rec := httptest.NewRecorder()
			Handler().ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status: got %d; want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Header().Get("X-Pid"); tt.wantPID && got != strconv.Itoa(os.Getpid()) {
				t.Errorf("X-Pid: got %q; want %d", got, os.Getpid())
			}
			if got := rec.Header().Get("X-Id"); got != tt.id {
				t.Errorf("X-Id: got %q; want %q", got, tt.id)
			}
		})
	}
}

func TestNewLogger(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		if _, err := NewLogger(format); err != nil {
			t.Errorf("NewLogger(%q): %v", format, err)
		}
	}
	if _, err := NewLogger("xml"); err == nil {
		t.Error("NewLogger(\"xml\"): no error; want one naming the format")
	}
}
