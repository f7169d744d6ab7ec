// Package httpx holds the HTTP conventions shared by the project's read-only
// media servers (internal/serve, origin, steering): CORS for players whose
// page comes from another origin, and the GET/HEAD/OPTIONS method preamble.
package httpx

import "net/http"

// ReadOnlyMethods is the Allow header of a read-only endpoint.
const ReadOnlyMethods = "GET, HEAD, OPTIONS"

// PlayerRequestHeaders are the request headers a cross-origin player may
// send: Range is not a CORS-safelisted header, so segment requests with a
// byte range need a preflight that allows it.
const PlayerRequestHeaders = "Range, Content-Type, Accept, Accept-Encoding, Origin, If-Modified-Since, If-None-Match, If-Range"

// MediaExpose is the Access-Control-Expose-Headers value for manifests and
// segments: what players and their range and revalidation logic read, and
// Date, on which players synchronise their clocks (DASH
// urn:mpeg:dash:utc:http-head:2014; dash.js for live Smooth).
const MediaExpose = "Content-Length, Content-Range, Accept-Ranges, Content-Type, ETag, Last-Modified, Date"

// MediaCORS is the CORS of manifests and segments.
var MediaCORS = &CORS{Expose: MediaExpose}

// CORS says which response headers a cross-origin page may read. The zero
// value exposes none beyond the safelisted ones.
type CORS struct {
	// Expose is the Access-Control-Expose-Headers value, such as
	// "Content-Length, Content-Range".
	Expose string
}

// ReadOnly runs the method preamble of a read-only endpoint and reports
// whether the caller should go on to serve r. It answers an OPTIONS
// preflight itself (204) and refuses methods other than GET and HEAD (405
// with an Allow header, readable by no other origin). With a non-nil cors,
// GET and HEAD answers allow any origin and the preflight allows
// PlayerRequestHeaders; with nil, no CORS header is set, for resources only
// the server's own pages load.
func ReadOnly(w http.ResponseWriter, r *http.Request, cors *CORS) bool {
	h := w.Header()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		cors.set(h)
		return true
	case http.MethodOptions:
		h.Set("Allow", ReadOnlyMethods)
		if cors != nil {
			cors.set(h)
			h.Set("Access-Control-Allow-Methods", ReadOnlyMethods)
			h.Set("Access-Control-Allow-Headers", PlayerRequestHeaders)
			h.Set("Access-Control-Max-Age", "86400")
		}
		w.WriteHeader(http.StatusNoContent)
		return false
	default:
		h.Set("Allow", ReadOnlyMethods)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
}

func (c *CORS) set(h http.Header) {
	if c == nil {
		return
	}
	h.Set("Access-Control-Allow-Origin", "*")
	if c.Expose != "" {
		h.Set("Access-Control-Expose-Headers", c.Expose)
	}
}
