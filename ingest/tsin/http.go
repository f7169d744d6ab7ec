package tsin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cmafkit/cmafkit/live"
)

// Handler is an http.Handler that ingests transport streams pushed over
// HTTP: a PUT or POST to /KEY whose body is the stream, usually sent with
// chunked transfer encoding for as long as the stream lasts (ffmpeg:
// -method PUT -f mpegts http://HOST/ingest/ts/KEY). Mount it with
// http.StripPrefix so that the request path is /KEY.
//
// Publish opens the publisher for the key: a key it refuses with
// live.ErrUnknownKey is answered 403 Forbidden, one already publishing
// (live.ErrKeyInUse) 409 Conflict, a closed channel 503. When the body ends
// the stream ends normally (204 No Content); a broken connection closes the
// publisher with its error.
type Handler struct {
	// Publish opens a Publisher for a stream key. Required.
	Publish live.PublisherFunc
	// Options configure each session; Name is set to the key.
	Options *Options
}

// ServeHTTP publishes the body of a PUT or POST to /KEY.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		w.Header().Set("Allow", "PUT, POST")
		http.Error(w, "PUT or POST an MPEG-TS body", http.StatusMethodNotAllowed)
		return
	}
	key := strings.TrimPrefix(r.URL.Path, "/")
	if key == "" || strings.Contains(key, "/") {
		http.Error(w, "the path must be /STREAMKEY", http.StatusNotFound)
		return
	}
	pub, err := h.Publish(r.Context(), key)
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, live.ErrUnknownKey):
			code = http.StatusForbidden
		case errors.Is(err, live.ErrKeyInUse):
			code = http.StatusConflict
		case errors.Is(err, live.ErrClosed):
			code = http.StatusServiceUnavailable
		}
		http.Error(w, err.Error(), code)
		return
	}
	o := Options{}
	if h.Options != nil {
		o = *h.Options
	}
	o.Name = key
	if err := Read(r.Context(), r.Body, pub, &o); err != nil {
		// The client may be gone; if not, it learns why.
		http.Error(w, fmt.Sprintf("stream %q ended: %v", key, err), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
