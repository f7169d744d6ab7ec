package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestReadOnly(t *testing.T) {
	tests := []struct {
		method string
		cors   *CORS
		goOn   bool
		status int
		want   map[string]string // header → value; "" means absent
	}{
		{"GET", MediaCORS, true, 200, map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": MediaExpose}},
		{"HEAD", &CORS{}, true, 200, map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": ""}},
		{"GET", nil, true, 200, map[string]string{"Access-Control-Allow-Origin": ""}},
		{"OPTIONS", MediaCORS, false, 204, map[string]string{"Allow": ReadOnlyMethods, "Access-Control-Allow-Methods": ReadOnlyMethods, "Access-Control-Allow-Headers": PlayerRequestHeaders, "Access-Control-Allow-Origin": "*"}},
		{"OPTIONS", nil, false, 204, map[string]string{"Allow": ReadOnlyMethods, "Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""}},
		{"POST", MediaCORS, false, 405, map[string]string{"Allow": ReadOnlyMethods, "Access-Control-Allow-Origin": ""}},
		{"DELETE", nil, false, 405, map[string]string{"Allow": ReadOnlyMethods}},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		goOn := ReadOnly(rec, httptest.NewRequest(tt.method, "/a.m4s", nil), tt.cors)
		if goOn != tt.goOn {
			t.Errorf("%s cors=%v: go on %v, want %v", tt.method, tt.cors, goOn, tt.goOn)
		}
		if goOn {
			rec.WriteHeader(http.StatusOK)
		}
		if rec.Code != tt.status {
			t.Errorf("%s cors=%v: status %d, want %d", tt.method, tt.cors, rec.Code, tt.status)
		}
		for k, v := range tt.want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s cors=%v: %s = %q, want %q", tt.method, tt.cors, k, got, v)
			}
		}
	}
}
