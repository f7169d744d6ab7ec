package serve

import "net/http"

// AllowHosts wraps next so that it answers only requests whose Host header
// is one of hosts (as Config.AllowedHosts), refusing others with 403 as
// the file handler does: for handlers mounted beside it, such as a live
// origin.
func AllowHosts(hosts []string, next http.Handler) http.Handler {
	h := NewHandler(nil, Config{AllowedHosts: hosts}).(*handler)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.hostAllowed(r.Host) {
			w.Header().Set("X-Content-Type-Options", "nosniff")
			http.Error(w, "host not allowed (see cmafkit serve --allow-host)", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
